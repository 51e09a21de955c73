//! `netlens gradient`: the raw input gradient of any model at an exact input tensor, so the reverse pass can be
//! checked against any autodiff (PyTorch, JAX, …). No image preprocessing: the .npy is the network's input.

use std::path::{Path, PathBuf};

use netlens::engine::{Engine, Objective};
use netlens::tensor::Tensor;

use netlens::methods::registry::Input;
use netlens::model_files::{find_default, MODEL_FILE};

use super::session::{read_file, Session};
use super::{check_outputs, run_err, write_npy, Common, Failure, Outcome};

pub fn gradient(c: &Common, input: &Path, class: usize, npy: &Path) -> Outcome<()> {
    check_outputs(&[Some(&npy.to_path_buf())])?;
    let x = read_npy(input)?;
    let path: PathBuf = match &c.model {
        Some(p) => p.clone(),
        None => find_default(MODEL_FILE).ok_or_else(|| Failure::Run("no model found; pass --model PATH".into()))?,
    };
    // A symbolic height and width are fixed to --input-size, else to the input tensor's width.
    let side = c.input_size.or_else(|| x.shape.last().copied()).unwrap_or(224);
    let (engine, _) = Engine::from_onnx_vec_sized(read_file(&path, "model")?, side)
        .map_err(run_err(format!("cannot load model '{}'", path.display())))?;
    let want = engine.input_shape().to_vec();
    check_shape(input, &x, &want)?;
    let outputs: usize = engine.output_shape().iter().product();
    if class >= outputs {
        return Err(Failure::Usage(format!(
            "class {class} is out of range: the model's output {:?} has {outputs} values",
            engine.output_shape()
        )));
    }
    let fed = Tensor::new(want, x.data.clone());
    let acts = engine.forward(&fed).map_err(run_err("forward pass failed"))?;
    let g = engine.backward(&acts, &Objective::Class(class)).map_err(run_err("reverse pass failed"))?;
    write_npy(npy, &Tensor::new(x.shape.clone(), g.data))?;
    eprintln!(
        "{}: output[{class}] = {:.6}, d output[{class}] / d input written to {} ({:?})",
        path.display(),
        acts.output().data[class],
        npy.display(),
        x.shape
    );
    Ok(())
}

fn read_npy(path: &Path) -> Outcome<Tensor> {
    let bytes = read_file(path, "input")?;
    let bad = |what: String| Failure::Usage(format!("'{}': {what}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a .npy file ({e})")))?;
    if npy.order() != npyz::Order::C {
        return Err(bad("Fortran order is not supported; save it in C order".into()));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let data = npy.into_vec::<f32>().map_err(|e| bad(format!("not float32 ({e})")))?;
    if data.iter().any(|v| !v.is_finite()) {
        return Err(bad("holds NaN or infinite values".into()));
    }
    Ok(Tensor::new(shape, data))
}

/// The input as given, or without the model's leading batch axis of 1 (how PyTorch references are often saved).
fn check_shape(input: &Path, x: &Tensor, want: &[usize]) -> Outcome<()> {
    if x.shape != want && !(want.first() == Some(&1) && x.shape == want[1..]) {
        return Err(Failure::Usage(format!("'{}' has shape {:?}; the model takes {want:?}", input.display(), x.shape)));
    }
    Ok(())
}

/// `attribute --input-npy`: the model (a symbolic height and width fixed to --input-size, else to the tensor's
/// width) and the tensor as the run's input, drawn for overlays as the model's preprocessing maps it back to pixels.
pub fn session_with_input(c: &Common, input: &Path) -> Outcome<(Session, Input)> {
    let x = read_npy(input)?;
    let mut session = Session::open(c)?;
    let width = x.shape.last().copied();
    if session.net.symbolic_side() && c.input_size.is_none() && width != session.net.input_shape().last().copied() {
        session = Session::open_sized(c, width)?;
    }
    let want = session.net.input_shape().to_vec();
    check_shape(input, &x, &want)?;
    let tensor = Tensor::new(want, x.data);
    let rgba = session.net.preprocess().tensor_to_rgba(&tensor);
    Ok((session, Input::new(tensor, rgba)))
}
