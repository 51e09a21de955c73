//! Explaining attention (issue 24, part 3): the attention probabilities of any exported transformer, attention
//! rollout (Abnar & Zuidema 2020) and gradient-weighted rollout (Chefer et al. 2021, "Generic Attention-model
//! Explainability"), with the definitions of ../shared/models/reference/vit/tinyvit_vit.json.
//!
//! The attention probabilities are found in the graph, not named per architecture: the outputs of Softmax nodes
//! over the last axis, of shape [..., heads, T, T], that a MatMul or Einsum reads (A·V), in graph order.

use crate::backward::Wanted;
use crate::engine::{Engine, Objective};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The ONNX names of the attention probabilities, one per layer, in graph order.
pub fn attention_values(engine: &Engine) -> Vec<String> {
    let graph = engine.graph();
    graph
        .nodes
        .iter()
        .filter(|n| n.op_type == "Softmax" && graph.depends_on_input[n.output])
        .filter(|n| {
            let s = graph.shape(n.output);
            s.len() >= 3 && s[s.len() - 1] == s[s.len() - 2]
        })
        .filter(|n| {
            graph.nodes.iter().any(|m| (m.op_type == "MatMul" || m.op_type == "Einsum") && m.inputs.contains(&n.output))
        })
        .map(|n| graph.values[n.output].name.clone())
        .collect()
}

/// The patch grid side g of attention over T = 1 + g² tokens (a class token first, then a square grid).
pub fn token_grid(tokens: usize) -> Result<usize> {
    let g = ((tokens.saturating_sub(1)) as f64).sqrt().round() as usize;
    if tokens < 2 || g * g + 1 != tokens {
        return Err(Error::Invalid(format!(
            "the attention is over {tokens} tokens, not a class token and a square grid of patches (1 + g²): \
             rollout reads the class token's row"
        )));
    }
    Ok(g)
}

/// Each layer's attention [heads, T, T] (leading axes folded into heads) for input `x`.
pub fn attention_maps(engine: &Engine, x: &Tensor) -> Result<Vec<Tensor>> {
    let names = layers(engine)?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let acts = engine.forward_with(x, &refs)?;
    names
        .iter()
        .map(|name| {
            let v = acts.get(name).ok_or_else(|| Error::Forward(format!("'{name}' was not recorded")))?;
            Ok(as_heads(v.shape, v.data.to_vec()))
        })
        .collect()
}

fn layers(engine: &Engine) -> Result<Vec<String>> {
    let names = attention_values(engine);
    if names.is_empty() {
        return Err(Error::Invalid(
            "the model has no attention: no Softmax over [.., T, T] whose output a MatMul or Einsum reads".into(),
        ));
    }
    Ok(names)
}

/// A [..., T, T] value as [heads, T, T].
fn as_heads(shape: &[usize], data: Vec<f32>) -> Tensor {
    let t = shape[shape.len() - 1];
    Tensor::new(vec![data.len() / (t * t), t, t], data)
}

/// Row-major T×T products in f64.
fn matmul(a: &[f64], b: &[f64], t: usize) -> Vec<f64> {
    let mut c = vec![0.0f64; t * t];
    for i in 0..t {
        for k in 0..t {
            let aik = a[i * t + k];
            if aik == 0.0 {
                continue;
            }
            let (row, bk) = (&mut c[i * t..(i + 1) * t], &b[k * t..(k + 1) * t]);
            row.iter_mut().zip(bk).for_each(|(c, &b)| *c += aik * b);
        }
    }
    c
}

/// The mean over heads of f(head values) per element, as f64 [T, T].
fn head_mean(a: &Tensor, f: impl Fn(usize) -> f64) -> Vec<f64> {
    let (heads, t) = (a.shape[0], a.shape[1]);
    (0..t * t).map(|e| (0..heads).map(|h| f(h * t * t + e)).sum::<f64>() / heads as f64).collect()
}

/// The class token's row without itself, as a g×g map.
fn class_row(r: &[f64], t: usize) -> Result<Tensor> {
    let g = token_grid(t)?;
    Ok(Tensor::new(vec![g, g], r[1..t].iter().map(|&v| v as f32).collect()))
}

/// Attention rollout of per-layer attention [heads, T, T]: A = mean over heads, A' = (A + I) / row sums,
/// R = A'_last ⋯ A'_0, the map R[0, 1:] on the g×g grid.
pub fn rollout_of(layers: &[Tensor]) -> Result<Tensor> {
    let t = layers.first().ok_or_else(|| Error::Invalid("no attention layers".into()))?.shape[1];
    token_grid(t)?;
    let mut r: Option<Vec<f64>> = None;
    for a in layers {
        let mut m = head_mean(a, |i| a.data[i] as f64);
        for i in 0..t {
            m[i * t + i] += 1.0;
            let sum: f64 = m[i * t..(i + 1) * t].iter().sum();
            m[i * t..(i + 1) * t].iter_mut().for_each(|v| *v /= sum);
        }
        r = Some(match r {
            None => m,
            Some(r) => matmul(&m, &r, t),
        });
    }
    class_row(&r.expect("at least one layer"), t)
}

/// Attention rollout for input `x` (class-independent).
pub fn rollout(engine: &Engine, x: &Tensor) -> Result<Tensor> {
    rollout_of(&attention_maps(engine, x)?)
}

/// Gradient-weighted rollout for `class`: per layer Ā = mean over heads of max(∂logit/∂A ⊙ A, 0); R = I, then for
/// each layer in order R = R + Ā·R; the map R[0, 1:] on the g×g grid.
pub fn grad_rollout(engine: &Engine, x: &Tensor, class: usize) -> Result<Tensor> {
    let names = layers(engine)?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = refs.iter().map(|n| engine.value_id(n)).collect::<Result<Vec<_>>>()?;
    let acts = engine.forward_with(x, &refs)?;
    let store = engine.gradients(
        &acts,
        &Objective::Class(class),
        &Wanted { at: ids.clone(), input: false, ..Wanted::input() },
    )?;
    let t = *engine.graph().shape(ids[0]).last().expect("rank ≥ 3");
    token_grid(t)?;
    let mut r: Vec<f64> = (0..t * t).map(|e| if e / t == e % t { 1.0 } else { 0.0 }).collect();
    for (name, &id) in names.iter().zip(&ids) {
        let v = acts.get(name).ok_or_else(|| Error::Forward(format!("'{name}' was not recorded")))?;
        let a = as_heads(v.shape, v.data.to_vec());
        let g = store.get(id).expect("the layer's gradient was asked for");
        if a.shape[1] != t {
            return Err(Error::Invalid(format!("attention layers differ in token count ({} and {t})", a.shape[1])));
        }
        let abar = head_mean(&a, |i| (g.data[i] as f64 * a.data[i] as f64).max(0.0));
        let ar = matmul(&abar, &r, t);
        r.iter_mut().zip(ar).for_each(|(r, v)| *r += v);
    }
    class_row(&r, t)
}

/// The token layer the CAM family reads on a transformer when the settings name none of its values: the last
/// [1, T, C] value on a square grid (see [`token_layout`]) before the last attention layer's probabilities — the
/// last block's input norm (`ln_1`, pytorch-grad-cam's `blocks[-1].norm1` for a ViT). A later token value (the
/// final norm) reaches the class only through the class token, so its patch tokens' gradient is zero. None for
/// a model without attention.
pub fn cam_token_layer(engine: &Engine) -> Option<String> {
    let graph = engine.graph();
    let last = attention_values(engine).pop()?;
    let last = graph.nodes.iter().position(|n| graph.values[n.output].name == last)?;
    graph.nodes[..last]
        .iter()
        .rev()
        .map(|n| n.output)
        .find(|&v| graph.depends_on_input[v] && matches!(*graph.shape(v), [1, t, _] if token_layout(t).is_some()))
        .map(|v| graph.values[v].name.clone())
}

/// How T tokens lie on a square grid: (leading tokens to drop, g) for T = g² or T = k + g² with k ≤ 1 class token.
pub fn token_layout(tokens: usize) -> Option<(usize, usize)> {
    (0..=1).find_map(|skip| {
        let g = ((tokens.saturating_sub(skip)) as f64).sqrt().round() as usize;
        (g >= 2 && g * g + skip == tokens).then_some((skip, g))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_grids() {
        assert_eq!(token_grid(197).unwrap(), 14);
        assert_eq!(token_grid(50).unwrap(), 7);
        let e = token_grid(49).unwrap_err().to_string();
        assert!(e.contains("49 tokens") && e.contains("square grid"), "{e}");
        assert_eq!(token_layout(197), Some((1, 14)));
        assert_eq!(token_layout(49), Some((0, 7)));
        assert_eq!(token_layout(48), None);
    }

    #[test]
    fn rollout_of_identity_attention_is_uniform_over_itself() {
        // Attention that only looks at itself: A' = I, R = I, the class row past itself is all zeros.
        let t = 5;
        let eye: Vec<f32> = (0..t * t).map(|e| if e / t == e % t { 1.0 } else { 0.0 }).collect();
        let layers = vec![Tensor::new(vec![1, t, t], eye.clone()), Tensor::new(vec![1, t, t], eye)];
        let r = rollout_of(&layers).unwrap();
        assert_eq!(r.shape, vec![2, 2]);
        assert!(r.data.iter().all(|&v| v == 0.0));
    }
}
