//! Attention rollout (Abnar & Zuidema 2020) and gradient-weighted rollout (Chefer et al. 2021) as attribution
//! methods: the class token's row of the rolled-out attention over the g×g patch grid, drawn like a CAM (upsampled
//! bilinearly). The maps are `methods::attention`'s; this file only declares them. A model without attention
//! over a class token and a square grid of patches (a CNN, Swin's windows) is refused when the run is made, with
//! one sentence, so the compare view and the trust tests' `all` can leave the method out on that model.

use serde_json::{json, Value as Json};

use super::cam::gradcam::CAM_OUTPUTS;
use super::{AttributionRun, Stepper, Style, CLASS};
use crate::error::{Error, Result};
use crate::methods::attention;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper, BACKWARD, FORWARD};
use crate::methods::settings::Settings;
use crate::network::Classifier;
use crate::tensor::Tensor;

pub static ROLLOUT: MethodSpec = MethodSpec {
    id: "rollout",
    title: "Attention rollout",
    summary: "A transformer's attention multiplied through its layers (with the skip connections): which patches the class token ends up reading. The same for every class.",
    paper: Paper {
        cite: "Abnar & Zuidema 2020, Quantifying Attention Flow in Transformers",
        url: "https://arxiv.org/abs/2005.00928",
    },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "rollout",
    cost: "1 forward",
    passes: Some(1),
    compare: true,
    run_label: "Compute",
    // Not re-run by itself: on a model without attention it has nothing to show but its sentence.
    auto_run: false,
    settings: &[CLASS],
    outputs: CAM_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &ROLLOUT),
    attribution: Some(Attributor { make: make_rollout, pass_cost: FORWARD }),
    sharding: None,
    requires: Some(|net| attention_grid(net, ROLLOUT.title).map(|_| ())),
};

pub static GRADROLLOUT: MethodSpec = MethodSpec {
    id: "gradrollout",
    title: "Gradient-weighted rollout",
    summary: "Attention rollout with each head's attention weighted by the class score's gradient (negative parts dropped): the patches the class token reads for this class.",
    paper: Paper {
        cite: "Chefer et al. 2021, Generic Attention-model Explainability",
        url: "https://arxiv.org/abs/2103.15679",
    },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "gradrollout",
    cost: "1 forward + backward",
    passes: Some(2),
    compare: true,
    run_label: "Compute",
    auto_run: false,
    settings: &[CLASS],
    outputs: CAM_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &GRADROLLOUT),
    attribution: Some(Attributor { make: make_gradrollout, pass_cost: BACKWARD }),
    sharding: None,
    requires: Some(|net| attention_grid(net, GRADROLLOUT.title).map(|_| ())),
};

fn make_rollout(net: &Classifier, x: &Tensor, class: usize, _: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    Ok((Box::new(Rollout::new(net, x, class, None, ROLLOUT.title)?), Style::Coarse))
}

fn make_gradrollout(net: &Classifier, x: &Tensor, class: usize, _: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    Ok((Box::new(Rollout::new(net, x, class, Some(class), GRADROLLOUT.title)?), Style::Coarse))
}

/// Checks that `net` has attention over a class token and a square patch grid: (layers, tokens, g).
pub fn attention_grid(net: &Classifier, title: &str) -> Result<(usize, usize, usize)> {
    let engine = net.engine();
    let layers = attention::attention_values(engine);
    let Some(first) = layers.first() else {
        return Err(Error::Invalid(format!(
            "{title} needs a transformer: this model has no attention (no Softmax over [.., T, T] whose output a \
             MatMul or Einsum reads)"
        )));
    };
    let tokens = *engine.graph().shape(engine.value_id(first)?).last().expect("attention has rank ≥ 3");
    let g = attention::token_grid(tokens).map_err(|e| Error::Invalid(format!("{title}: {e}")))?;
    Ok((layers.len(), tokens, g))
}

/// One pass: rollout (no class) or gradient-weighted rollout (a class).
struct Rollout {
    x: Tensor,
    class: Option<usize>,
    note: String,
    map: Option<Tensor>,
}

impl Rollout {
    fn new(net: &Classifier, x: &Tensor, class: usize, weighted: Option<usize>, title: &str) -> Result<Rollout> {
        net.check_class(class)?;
        let (layers, tokens, g) = attention_grid(net, title)?;
        let note = format!("{layers} layers, {tokens} tokens: a class token and a {g}×{g} grid of patches");
        Ok(Rollout { x: x.clone(), class: weighted, note, map: None })
    }
}

impl Stepper for Rollout {
    fn total(&self) -> usize {
        1
    }
    fn done(&self) -> usize {
        usize::from(self.map.is_some())
    }
    fn step(&mut self, net: &Classifier) -> Result<()> {
        self.map = Some(match self.class {
            None => attention::rollout(net.engine(), &self.x)?,
            Some(k) => attention::grad_rollout(net.engine(), &self.x, k)?,
        });
        Ok(())
    }
    fn result(&self) -> Result<(Tensor, Json)> {
        let map = self.map.clone().expect("the pass is done");
        Ok((map, json!({ "attention": { "label": "Attention", "text": self.note } })))
    }
}
