//! The Python module `netlens._netlens` (feature `python`, built by maturin: `make wheel`; python/netlens/ is
//! the package around it). A thin layer: the registry's methods and settings are checked and run by the same Rust
//! code as the CLI (`registry::run_to_end`, `batch::run_method`), with the GIL released while the engine works.
//! Nothing here knows a method. docs/scale.md shows its use.

use std::path::PathBuf;

use numpy::ndarray::{Array3, ArrayD, IxDyn};
use numpy::{IntoPyArray, PyReadonlyArray3};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use serde_json::{Map, Value as Json};

use crate::batch::{self, Row};
use crate::classes::ClassNames;
use crate::methods::registry::{self, Ctx, Input, Panel};
use crate::model_files::{default_dirs, find_default, CLASSES_FILE, MODEL_FILE, SYNSETS_FILE};
use crate::network::Classifier;
use crate::preprocess::Choice;
use crate::Error;

fn py_err(e: Error) -> PyErr {
    match e {
        Error::Invalid(m) => PyValueError::new_err(m),
        Error::Image(m) => PyValueError::new_err(format!("image: {m}")),
        e => PyRuntimeError::new_err(e.to_string()),
    }
}

/// JSON text from Python (`json.dumps`) and back (`json.loads`): the registry checks settings as JSON.
fn to_json(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Json> {
    let text: String = py.import("json")?.call_method1("dumps", (obj,))?.extract()?;
    serde_json::from_str(&text).map_err(|e| PyValueError::new_err(format!("settings: {e}")))
}

fn from_json<'py>(py: Python<'py>, v: &Json) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (v.to_string(),))
}

/// An image given as an H×W×3 uint8 array, a path, or encoded bytes.
enum Image {
    Pixels { width: u32, height: u32, rgb: Vec<u8> },
    Bytes(Vec<u8>),
}

fn image_arg(py: Python<'_>, img: &Bound<'_, PyAny>) -> PyResult<Image> {
    if let Ok(bytes) = img.cast::<PyBytes>() {
        return Ok(Image::Bytes(bytes.as_bytes().to_vec()));
    }
    if let Ok(array) = img.extract::<PyReadonlyArray3<u8>>() {
        let view = array.as_array();
        let (h, w, c) = view.dim();
        if c != 3 {
            return Err(PyValueError::new_err(format!("image: expected an H×W×3 uint8 array, got H×W×{c}")));
        }
        // `iter` walks in logical (C) order whatever the array's strides.
        let rgb: Vec<u8> = view.iter().copied().collect();
        return Ok(Image::Pixels { width: w as u32, height: h as u32, rgb });
    }
    let os = py.import("os")?;
    if let Ok(path) = os.call_method1("fspath", (img,)).and_then(|p| p.extract::<PathBuf>()) {
        let bytes = std::fs::read(&path)
            .map_err(|e| PyValueError::new_err(format!("image: cannot read '{}': {e}", path.display())))?;
        return Ok(Image::Bytes(bytes));
    }
    Err(PyValueError::new_err("image: expected an H×W×3 uint8 numpy array, a path or encoded bytes"))
}

/// A network loaded once, with its class names: `Model()` is the CLI's default model.
#[pyclass(frozen)]
struct Model {
    net: Classifier,
    names: Option<ClassNames>,
}

impl Model {
    fn label(&self, class: usize) -> String {
        match &self.names {
            Some(n) if class < n.len() => format!("{class} {}", n.short_name(class)),
            _ => format!("class {class}"),
        }
    }

    fn input(&self, image: Image) -> Result<Input, Error> {
        match image {
            Image::Bytes(bytes) => Input::from_bytes(&self.net, &bytes),
            Image::Pixels { width, height, rgb } => {
                let min = crate::imageio::MIN_SIDE;
                if width < min || height < min {
                    return Err(Error::Image(format!(
                        "image is only {width}×{height} pixels; it needs at least {min} pixels per side"
                    )));
                }
                let image = image::RgbImage::from_raw(width, height, rgb).expect("H×W×3 bytes");
                let pre = self.net.preprocess();
                let rgb = pre.fit(&image);
                Ok(Input::new(pre.to_tensor(&rgb), crate::imageio::rgb_to_rgba(&rgb)))
            }
        }
    }
}

fn panel_dict<'py>(py: Python<'py>, p: Panel) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("title", p.title)?;
    d.set_item("kind", serde_json::to_value(p.kind).expect("kinds serialise").as_str().unwrap_or(""))?;
    let (w, h) = (p.width as usize, p.height as usize);
    if w * h * 4 == p.rgba.len() && w * h > 0 {
        let rgba = Array3::from_shape_vec((h, w, 4), p.rgba).expect("H×W×4");
        d.set_item("image", rgba.into_pyarray(py))?;
    } else {
        d.set_item("image", py.None())?;
    }
    match p.raw {
        Some(t) => {
            d.set_item("raw", ArrayD::from_shape_vec(IxDyn(&t.shape), t.data).expect("shape").into_pyarray(py))?
        }
        None => d.set_item("raw", py.None())?,
    }
    match p.plot {
        Some(plot) => d.set_item("plot", from_json(py, &plot)?)?,
        None => d.set_item("plot", py.None())?,
    }
    Ok(d)
}

fn row_dict<'py>(py: Python<'py>, row: &Row) -> PyResult<Bound<'py, PyAny>> {
    from_json(py, &serde_json::to_value(row).expect("rows serialise"))
}

#[pymethods]
impl Model {
    /// `Model()` (the CLI's default SqueezeNet 1.1) or `Model("path/to/model.onnx")`; `classes`: class names,
    /// one a line (default: beside the default model).
    #[new]
    #[pyo3(signature = (path = None, classes = None))]
    fn new(py: Python<'_>, path: Option<PathBuf>, classes: Option<PathBuf>) -> PyResult<Model> {
        let path = match path {
            Some(p) => p,
            None => find_default(MODEL_FILE).ok_or_else(|| {
                let tried: Vec<String> =
                    default_dirs().iter().map(|d| d.join(MODEL_FILE).display().to_string()).collect();
                PyValueError::new_err(format!("no model found (tried {}); pass a path", tried.join(", ")))
            })?,
        };
        let bytes = std::fs::read(&path)
            .map_err(|e| PyValueError::new_err(format!("cannot read model '{}': {e}", path.display())))?;
        let names_path = classes.or_else(|| find_default(CLASSES_FILE));
        py.detach(|| {
            let net = Classifier::load_owned(bytes, &Choice::default()).map_err(py_err)?;
            let names = match names_path {
                None => None,
                Some(p) => {
                    let short = std::fs::read_to_string(&p)
                        .map_err(|e| PyValueError::new_err(format!("cannot read '{}': {e}", p.display())))?;
                    let synsets = p
                        .parent()
                        .map(|d| d.join(SYNSETS_FILE))
                        .filter(|s| s.is_file() && *s != p)
                        .and_then(|s| std::fs::read_to_string(s).ok());
                    Some(ClassNames::parse(&short, synsets.as_deref()).map_err(py_err)?)
                }
            };
            Ok(Model { net, names })
        })
    }

    /// The number of classes.
    #[getter]
    fn num_classes(&self) -> usize {
        self.net.num_classes()
    }

    /// Method id → one sentence saying why, for each registry method this model cannot run (the attention methods
    /// on a CNN, LRP where a composite has no rule for an op); `run` refuses those with that sentence.
    fn not_for_model<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        from_json(py, &Json::Object(crate::methods::applicable::not_for_model(&self.net)))
    }

    /// Top-`top` classes of an image as [(index, name, probability)], most probable first.
    #[pyo3(signature = (img, top = 5))]
    fn classify(&self, py: Python<'_>, img: &Bound<'_, PyAny>, top: usize) -> PyResult<Vec<(usize, String, f32)>> {
        let image = image_arg(py, img)?;
        let probs = py.detach(|| -> Result<Vec<f32>, Error> {
            let input = self.input(image)?;
            Ok(self.net.probabilities(input.logits(&self.net)?))
        });
        let probs = probs.map_err(py_err)?;
        Ok(crate::tensor::top_k(&probs, top)
            .into_iter()
            .map(|(k, p)| (k, self.names.as_ref().map_or(String::new(), |n| n.short_name(k).to_string()), p))
            .collect())
    }

    /// Runs a registry method to the end: `{"panels": {id: {"title", "kind", "image": H×W×4 uint8 or None,
    /// "raw": float32 array or None, "plot": dict or None}}, "report": dict, "settings": dict}`. Settings are the
    /// method's (see `netlens.schema()`), checked by the registry; `img` is needed by methods that take one.
    #[pyo3(signature = (method, img = None, **settings))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        img: Option<&Bound<'py, PyAny>>,
        settings: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let spec = registry::method(method).map_err(py_err)?;
        let set = match settings {
            Some(s) => to_json(py, s.as_any())?,
            None => Json::Null,
        };
        let image = img.map(|i| image_arg(py, i)).transpose()?;
        let done = py.detach(|| -> Result<_, Error> {
            let settings = spec.settings(&set, self.net.num_classes())?;
            let input = image.map(|i| self.input(i)).transpose()?;
            let names = |k: usize| self.label(k);
            let ctx = Ctx { net: &self.net, name: &names };
            let run = registry::run_to_end(&ctx, spec, input.as_ref(), &settings, |_, _| true)?;
            Ok((run.panels(), run.report(), settings.to_json()))
        });
        let (panels, report, settings) = done.map_err(py_err)?;
        let out = PyDict::new(py);
        let ps = PyDict::new(py);
        for p in panels {
            ps.set_item(p.id, panel_dict(py, p)?)?;
        }
        out.set_item("panels", ps)?;
        out.set_item("report", from_json(py, &report)?)?;
        out.set_item("settings", from_json(py, &settings)?)?;
        Ok(out)
    }

    /// One row of the results table for (image, method), as `netlens batch` makes it: a failure (an unreadable
    /// image, a bad class) is an `error` row, not an exception. `image_id` names the image in the table; `class_`
    /// is the image's class when known (a manifest's), else the row is about the top-1 class.
    #[pyo3(signature = (image_id, method, img, class_ = None, **settings))]
    fn batch_row<'py>(
        &self,
        py: Python<'py>,
        image_id: &str,
        method: &str,
        img: &Bound<'py, PyAny>,
        class_: Option<usize>,
        settings: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let spec = registry::method(method).map_err(py_err)?;
        let set: Map<String, Json> = match settings {
            Some(s) => match to_json(py, s.as_any())? {
                Json::Object(o) => o,
                _ => Map::new(),
            },
            None => Map::new(),
        };
        // Bad settings are the caller's mistake for every row: an exception, as the CLI refuses them up front.
        spec.settings(&Json::Object(set.clone()), self.net.num_classes()).map_err(py_err)?;
        let image = image_arg(py, img);
        let row = py.detach(|| {
            let input = match image {
                Ok(i) => self.input(i),
                Err(e) => Err(Error::Image(e.to_string())),
            };
            match input {
                Err(e) => Row::error(image_id, class_, spec.id, &e),
                Ok(input) => {
                    let names = |k: usize| self.label(k);
                    let ctx = Ctx { net: &self.net, name: &names };
                    batch::run_method(&ctx, spec, image_id, &input, class_, &set).0
                }
            }
        });
        row_dict(py, &row)
    }
}

/// The registry's schema (every method, its settings with defaults and bounds), as `netlens schema` prints it.
#[pyfunction]
fn schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    from_json(py, &registry::schema())
}

/// Writes `outdir/results.csv` and `outdir/results.jsonl` from rows made by `Model.batch_row`, sorted, exactly
/// as `netlens batch` writes them.
#[pyfunction]
fn write_table(py: Python<'_>, rows: &Bound<'_, PyList>, outdir: PathBuf) -> PyResult<()> {
    let mut parsed = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        let row: Row = serde_json::from_value(to_json(py, &r)?)
            .map_err(|e| PyValueError::new_err(format!("not a row of Model.batch_row: {e}")))?;
        parsed.push(row);
    }
    std::fs::create_dir_all(&outdir)
        .map_err(|e| PyValueError::new_err(format!("cannot create '{}': {e}", outdir.display())))?;
    batch::write_tables(&outdir, &mut parsed).map_err(py_err)
}

/// Threads for the engine in this process (call before the first model; default: $NETLENS_THREADS, else the
/// machine's cores). Returns the count in use.
#[pyfunction]
fn set_threads(n: usize) -> usize {
    crate::threads::set_threads(n)
}

#[pymodule]
fn _netlens(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(schema, m)?)?;
    m.add_function(wrap_pyfunction!(write_table, m)?)?;
    m.add_function(wrap_pyfunction!(set_threads, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
