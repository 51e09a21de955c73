//! The page's worker calls the crate through these bindings. They only convert types: every decision lives in the
//! core modules, and every core error reaches JavaScript as a `JsError` carrying the core's own message.
//!
//! Every method starts the same way, `lens.start(methodId, image, settingsJson)`, from the registry
//! (`src/methods/registry.rs`; the contract: docs/architecture.md).

use js_sys::{Array, Float32Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::classes::ClassNames;
use crate::graph::stream::ModelBytes;
use crate::imageio;
use crate::methods::registry::{self, Ctx, Input, MethodSpec, Run};
use crate::methods::settings::Settings;
use crate::methods::shard;
use crate::network::Classifier;
use crate::preprocess::Choice;
use crate::render;

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// Panics (bugs, not bad input) then print their message to the console instead of a bare "unreachable".
#[wasm_bindgen(js_name = installPanicHook)]
pub fn install_panic_hook() {
    // Also noted for `threads::on_pool`: a panic on a pool thread must end its caller's wait (wasm cannot unwind).
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        crate::threads::note_panic(info.to_string());
    }));
    #[cfg(feature = "wasm-threads")]
    std::alloc::set_alloc_error_hook(|layout| crate::threads::note_out_of_memory(layout.size()));
}

/// The threaded build's pool (wasm-bindgen-rayon): the worker awaits `initThreadPool(n)`, which starts n Web
/// Workers sharing this module's memory, then calls `useThreads`. Absent from the single-thread build.
#[cfg(feature = "wasm-threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

/// Puts tract's matrix products and the VJPs on the pool `initThreadPool(n)` started; returns the thread count in
/// use (always 1 in the single-thread build).
#[wasm_bindgen(js_name = useThreads)]
pub fn use_threads(n: usize) -> usize {
    crate::threads::set_threads(n)
}

/// Whether the pool's threads spin during engine calls (`threads::set_spinning`): off while other engine workers
/// of the page's pool are busy.
#[wasm_bindgen(js_name = setSpinning)]
pub fn set_spinning(on: bool) {
    crate::threads::set_spinning(on);
}

/// The thread count the computations use.
#[wasm_bindgen(js_name = threadCount)]
pub fn thread_count() -> usize {
    crate::threads::threads()
}

/// Browser tests only (www/worker.js, with `?test`): allocates `bytes` where the engine's work runs (a pool
/// thread in the threaded build), so that a test can run that thread out of memory.
#[wasm_bindgen(js_name = testAllocateOnPool)]
pub fn test_allocate_on_pool(bytes: usize) -> usize {
    crate::threads::on_pool(|| std::hint::black_box(vec![1u8; bytes]).len())
}

/// The method registry's schema (docs/architecture.md), as JSON text.
#[wasm_bindgen]
pub fn schema() -> String {
    registry::schema_json()
}

/// The settings validator for the page (share links, forms): one value of `method_id`'s setting `key`, as text,
/// read and checked as the CLI and every run check it, for a model of `classes` classes. Returns the value as
/// JSON text, or an error sentence that names the setting.
#[wasm_bindgen(js_name = checkSetting)]
pub fn check_setting(method_id: &str, key: &str, text: &str, classes: usize) -> Result<String, JsError> {
    let spec = registry::method(method_id).map_err(|e| JsError::new(&e.to_string()))?;
    let setting = spec
        .settings
        .iter()
        .find(|s| s.key == key)
        .ok_or_else(|| JsError::new(&format!("{} has no setting '{key}'", spec.title)))?;
    let value = setting.check_text(text, classes).map_err(|e| JsError::new(&e.to_string()))?;
    Ok(serde_json::to_string(&value).expect("a setting value serialises"))
}

/// The preprocessing-choice validator for the page (a user model's form, share links): one field's value
/// (`preset`, `resize`, `side`) as text, checked as the core checks a choice. Returns the value as JSON text, or
/// an error sentence.
#[wasm_bindgen(js_name = checkChoice)]
pub fn check_choice(field: &str, text: &str) -> Result<String, JsError> {
    let value = crate::preprocess::check_choice(field, text).map_err(|e| JsError::new(&e.to_string()))?;
    Ok(value.to_string())
}

/// The activation grid's slot under grid pixel (x, y) (`activations`' `grid` panel: `channels` tiles of h × w), or
/// nothing for a gap (www/activations.js).
#[wasm_bindgen(js_name = gridSlot)]
pub fn grid_slot(channels: usize, h: usize, w: usize, x: usize, y: usize) -> Option<usize> {
    crate::methods::features::activations::GridLayout { channels, h, w }.slot_at(x, y)
}

/// One channel's h × w map upsampled (bilinear, half-pixel centres) over a width × height RGBA image, in the
/// engine's overlay colours (www/activations.js).
#[wasm_bindgen(js_name = channelOverlay)]
pub fn channel_overlay(
    values: &[f32],
    h: usize,
    w: usize,
    image: &[u8],
    width: usize,
    height: usize,
) -> Result<Vec<u8>, JsError> {
    use crate::methods::image_ops::{upsample_bilinear, Corners};
    if values.len() != h * w || image.len() != width * height * 4 {
        return Err(JsError::new("channelOverlay: the map or the image has the wrong size"));
    }
    let up = upsample_bilinear(values, h, w, height, width, Corners::HalfPixel);
    Ok(crate::render::overlay_rgba(image, &up))
}

/// PNG bytes of a width × height RGBA picture, for the page's downloads.
#[wasm_bindgen(js_name = encodePng)]
pub fn encode_png(rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, JsError> {
    render::encode_png_rgba(rgba, width, height).map_err(js_err)
}

/// An input image: the picture the network sees (its H×W), as normalised tensor and as RGBA for display.
#[wasm_bindgen]
pub struct Image {
    input: Input,
}

#[wasm_bindgen]
impl Image {
    /// Decodes any supported file (size limits and EXIF orientation are the core's), resizes and crops it to
    /// SqueezeNet's 224×224 (a model's own input: `NetLens.decodeImage`).
    pub fn decode(bytes: &[u8]) -> Result<Image, JsError> {
        let rgb = imageio::load_224(bytes).map_err(js_err)?;
        Ok(Image { input: Input::new(imageio::rgb_to_tensor(&rgb), imageio::rgb_to_rgba(&rgb)) })
    }

    pub fn rgba(&self) -> Vec<u8> {
        self.input.rgba.clone()
    }

    /// A copy (with the class scores, once `classify` has computed them), for `NetLens.start`, which consumes it.
    pub fn copy(&self) -> Image {
        Image { input: self.input.clone() }
    }
}

/// The model plus the class names; everything the worker runs goes through it.
#[wasm_bindgen]
pub struct NetLens {
    net: Classifier,
    classes: ClassNames,
}

impl NetLens {
    fn sharded(
        &self,
        method_id: &str,
        settings_json: &str,
    ) -> Result<(&'static MethodSpec, Settings, &'static shard::Sharding), JsError> {
        let spec = registry::method(method_id).map_err(js_err)?;
        let sharding = spec.sharding.ok_or_else(|| JsError::new(&format!("{} does not run in parts", spec.title)))?;
        let settings = spec.settings_str(settings_json, self.net.num_classes()).map_err(js_err)?;
        Ok((spec, settings, sharding))
    }

    /// Every engine call of the page goes through here: on a pool thread in the threaded build (`on_pool`).
    fn with_ctx<T: Send>(&self, f: impl FnOnce(&Ctx) -> T + Send) -> T {
        let (net, classes) = (&self.net, &self.classes);
        crate::threads::on_pool(|| {
            let name = |k: usize| format!("{} (#{k})", classes.short_name(k));
            f(&Ctx { net, name: &name })
        })
    }
}

/// The allocator, counting the bytes in use: the memory a model may still take is the build's maximum less what
/// is in use, not less the memory's size (it never shrinks: after a large model is dropped its space is free
/// inside it).
struct Counting;

static IN_USE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: every call goes to the system allocator with the caller's arguments; only the count is added.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let p = std::alloc::System.alloc(layout);
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), std::sync::atomic::Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        let p = std::alloc::System.alloc_zeroed(layout);
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), std::sync::atomic::Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        std::alloc::System.dealloc(ptr, layout);
        IN_USE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        let p = std::alloc::System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            IN_USE.fetch_add(new_size, std::sync::atomic::Ordering::Relaxed);
            IN_USE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Refuses, with the numbers, a model whose file would need more memory than this module can still take (the
/// threaded build's shared memory has at most 2 GiB, the single-thread build's 4 GiB).
/// A model file in a JavaScript `Uint8Array`, read in pieces (`graph::stream`).
struct JsBytes(Uint8Array);

impl ModelBytes for JsBytes {
    fn byte_len(&self) -> usize {
        self.0.length() as usize
    }
    fn read_into(&self, start: usize, out: &mut [u8]) {
        self.0.subarray(start as u32, (start + out.len()) as u32).copy_to(out);
    }
}

fn check_memory(file_bytes: usize) -> crate::error::Result<()> {
    let threads = cfg!(feature = "wasm-threads");
    let maximum: usize = if threads { 2 << 30 } else { (4u64 << 30).min(usize::MAX as u64) as usize };
    let in_use = IN_USE.load(std::sync::atomic::Ordering::Relaxed);
    crate::model_memory::check_fits(file_bytes, maximum.saturating_sub(in_use), maximum, threads)
}

#[wasm_bindgen]
impl NetLens {
    /// `synset_words` may be empty: synonyms then come from the short names only. `class_names` may be empty
    /// too (a user's model without a labels file): the classes are then called "class 0" … "class K−1".
    #[wasm_bindgen(constructor)]
    pub fn new(model: Uint8Array, class_names: &str, synset_words: &str) -> Result<NetLens, JsError> {
        NetLens::load(model, class_names, synset_words, "")
    }

    /// As `new`, with the user's preprocessing choice for a model without metadata, as JSON
    /// (`{"preset": "mnist", "resize": "squash", "side": 32}`, every key optional; see `Choice::from_json`).
    pub fn load(
        model: Uint8Array,
        class_names: &str,
        synset_words: &str,
        choice_json: &str,
    ) -> Result<NetLens, JsError> {
        let synsets = if synset_words.trim().is_empty() { None } else { Some(synset_words) };
        let choice = Choice::from_json(choice_json).map_err(js_err)?;
        let model = JsBytes(model);
        check_memory(model.byte_len()).map_err(js_err)?;
        // Read from the caller's array a field at a time: the file itself never enters wasm memory.
        let net = Classifier::load_from(&model, &choice).map_err(js_err)?;
        let generated;
        let class_names = if class_names.trim().is_empty() {
            generated = (0..net.num_classes()).map(|k| format!("class {k}\n")).collect::<String>();
            generated.as_str()
        } else {
            class_names
        };
        let classes = ClassNames::parse(class_names, synsets).map_err(js_err)?;
        if classes.len() != net.num_classes() {
            return Err(JsError::new(&format!(
                "the class names list has {} entries but the model scores {} classes",
                classes.len(),
                net.num_classes()
            )));
        }
        Ok(NetLens { net, classes })
    }

    #[wasm_bindgen(js_name = numClasses)]
    pub fn num_classes(&self) -> usize {
        self.net.num_classes()
    }

    /// What the page shows about the model, as JSON: input shape, class count, op count, op types, whether the
    /// output is already probabilities (a final Softmax, differentiated through), its preprocessing (with where it
    /// came from and a one-line description), whether its H and W were symbolic, and its layers (every 4-D value
    /// after the input, `{name, shape}` in graph order: the page's layer chooser).
    #[wasm_bindgen(js_name = modelInfo)]
    pub fn model_info(&self) -> String {
        let g = self.net.engine().graph();
        let mut types: Vec<&str> = g.nodes.iter().map(|n| n.op_type.as_str()).collect();
        let ops = types.len();
        types.sort_unstable();
        types.dedup();
        let pre = self.net.preprocess();
        let mut preprocess = serde_json::to_value(pre).expect("a preprocess serialises");
        preprocess["text"] = serde_json::Value::String(pre.describe());
        serde_json::json!({
            "input_shape": self.net.engine().input_shape(),
            "classes": self.net.num_classes(),
            "ops": ops,
            "op_types": types,
            "outputs_probabilities": self.net.outputs_probabilities(),
            "preprocess": preprocess,
            "symbolic_side": self.net.symbolic_side(),
            "not_for_model": crate::methods::applicable::not_for_model(&self.net),
            "layers": crate::methods::features::activations::layers(&self.net)
                .into_iter()
                .map(|(name, shape)| serde_json::json!({"name": name, "shape": shape}))
                .collect::<Vec<_>>(),
        })
        .to_string()
    }

    #[wasm_bindgen(js_name = shortName)]
    pub fn short_name(&self, class: usize) -> Result<String, JsError> {
        self.net.check_class(class).map_err(js_err)?;
        Ok(self.classes.short_name(class).to_string())
    }

    pub fn synonyms(&self, class: usize) -> Result<Vec<String>, JsError> {
        self.net.check_class(class).map_err(js_err)?;
        Ok(self.classes.synonyms(class).to_vec())
    }

    /// Class indices best matching `query` (any name, synonym, alias or index), best first.
    pub fn search(&self, query: &str, limit: usize) -> Vec<u32> {
        self.classes.search(query, limit).into_iter().map(|c| c as u32).collect()
    }

    /// Decodes an image file into the picture this model sees: its size, its resize, its normalisation (a grey
    /// model's picture is grey).
    #[wasm_bindgen(js_name = decodeImage)]
    pub fn decode_image(&self, bytes: &[u8]) -> Result<Image, JsError> {
        let pre = self.net.preprocess();
        let rgb = pre.load(bytes).map_err(js_err)?;
        Ok(Image { input: Input::new(pre.to_tensor(&rgb), imageio::rgb_to_rgba(&rgb)) })
    }

    /// A camera frame (the page's live mode: raw RGBA, `width`×`height`) as the picture this model sees, with the
    /// very resize, crop and normalisation `decodeImage` gives a dropped image of the same pixels.
    #[wasm_bindgen(js_name = frameImage)]
    pub fn frame_image(&self, rgba: &[u8], width: u32, height: u32) -> Result<Image, JsError> {
        let pre = self.net.preprocess();
        let rgb = pre.fit(&imageio::from_rgba(rgba, width, height).map_err(js_err)?);
        Ok(Image { input: Input::new(pre.to_tensor(&rgb), imageio::rgb_to_rgba(&rgb)) })
    }

    /// Class probabilities (the model's own for a final Softmax, else the softmax of its logits).
    pub fn classify(&self, image: &Image) -> Result<Vec<f32>, JsError> {
        let input = &image.input;
        let logits = self.with_ctx(|ctx| input.logits(ctx.net)).map_err(js_err)?;
        Ok(self.net.probabilities(logits))
    }

    /// The `k` most probable classes of an image, `[[class, probability], …]` as JSON (the page's bars).
    pub fn top(&self, image: &Image, k: usize) -> Result<String, JsError> {
        let probs = self.classify(image)?;
        Ok(serde_json::to_string(&crate::tensor::top_k(&probs, k)).expect("numbers serialise"))
    }

    /// Starts any method of the registry. `image` may be absent for methods that need none; `settings_json`
    /// is an object of setting keys (missing ones take their defaults). Bad settings fail here, naming the setting.
    /// `image` is consumed: pass `image.copy()` to keep using it (the copy keeps the class scores `classify`
    /// computed, so a run that needs the prediction does not pay another forward pass).
    pub fn start(&self, method_id: &str, image: Option<Image>, settings_json: &str) -> Result<MethodRun, JsError> {
        let spec = registry::method(method_id).map_err(js_err)?;
        let settings = spec.settings_str(settings_json, self.net.num_classes()).map_err(js_err)?;
        let input = image.map(|i| i.input);
        let run = self.with_ctx(|ctx| spec.start(ctx, input.as_ref(), &settings)).map_err(js_err)?;
        Ok(MethodRun { spec, settings, settings_json: settings_json.to_string(), run })
    }

    /// How a run of `method_id` splits into parts for the worker pool (www/pool.js hands them out in this order to
    /// whichever worker is free): JSON `[{"units": [unit, …], "steps": n}, …]`, or undefined when the method runs
    /// whole. Bad settings fail here as in `start`.
    #[wasm_bindgen(js_name = shardPlan)]
    pub fn shard_plan(&self, method_id: &str, image: &Image, settings_json: &str) -> Result<Option<String>, JsError> {
        let spec = registry::method(method_id).map_err(js_err)?;
        let settings = spec.settings_str(settings_json, self.net.num_classes()).map_err(js_err)?;
        let plan = self.with_ctx(|ctx| shard::shard_plan(ctx, spec, &image.input, &settings)).map_err(js_err)?;
        Ok(plan.map(|p| serde_json::to_string(&p).expect("a plan serialises")))
    }

    /// Starts the part of a run that computes `units_json` (one list of `shardPlan`); when done, its
    /// `partResult()` goes to `merge`.
    #[wasm_bindgen(js_name = startPart)]
    pub fn start_part(
        &self,
        method_id: &str,
        image: Image,
        settings_json: &str,
        units_json: &str,
    ) -> Result<MethodRun, JsError> {
        let (spec, settings, sharding) = self.sharded(method_id, settings_json)?;
        let units = shard::parse_units(units_json).map_err(js_err)?;
        let run = self.with_ctx(|ctx| (sharding.part)(ctx, &image.input, &settings, &units)).map_err(js_err)?;
        Ok(MethodRun { spec, settings, settings_json: settings_json.to_string(), run })
    }

    /// The whole run, finished, from every part's `partResult()` bytes: its `panels()` and `report()` are the
    /// ones a single run gives.
    pub fn merge(
        &self,
        method_id: &str,
        image: Image,
        settings_json: &str,
        parts: Array,
    ) -> Result<MethodRun, JsError> {
        let (spec, settings, sharding) = self.sharded(method_id, settings_json)?;
        let parts = parts
            .iter()
            .map(|p| shard::PartResult::from_bytes(&Uint8Array::new(&p).to_vec()))
            .collect::<crate::error::Result<Vec<_>>>()
            .map_err(js_err)?;
        let run = self.with_ctx(|ctx| (sharding.merge)(ctx, &image.input, &settings, &parts)).map_err(js_err)?;
        Ok(MethodRun { spec, settings, settings_json: settings_json.to_string(), run })
    }

    /// The estimated cost (in forward passes) of an attribution map with these settings, or undefined (not a
    /// map method, or settings it refuses): the pool starts the compare view's costliest maps first.
    #[wasm_bindgen(js_name = mapCost)]
    pub fn map_cost(&self, method_id: &str, image: &Image, settings_json: &str) -> Option<f64> {
        let spec = registry::method(method_id).ok()?;
        let settings = spec.settings_str(settings_json, self.net.num_classes()).ok()?;
        crate::methods::trust::map_cost(spec, &self.net, &image.input.tensor, &settings)
    }

    /// Bench hook: the forward pass alone (tract); returns the top logit so the call can't be optimised away.
    #[wasm_bindgen(js_name = benchForward)]
    pub fn bench_forward(&self, image: &Image) -> Result<f32, JsError> {
        let x = &image.input.tensor;
        let logits = self.with_ctx(|ctx| ctx.net.logits(x)).map_err(js_err)?;
        Ok(logits.iter().copied().fold(f32::MIN, f32::max))
    }

    /// Bench hook: forward + our reverse pass for one class logit.
    #[wasm_bindgen(js_name = benchForwardBackward)]
    pub fn bench_forward_backward(&self, image: &Image, class: usize) -> Result<f32, JsError> {
        let x = &image.input.tensor;
        let (_, grad) = self.with_ctx(|ctx| ctx.net.logits_and_grad(x, class)).map_err(js_err)?;
        Ok(grad.data[0])
    }

    /// Bench hook: the forward pass (as `benchForward`), calling `on_node(opName)` right after each node of
    /// tract's plan, so the page can attribute forward time to tract's op types.
    #[wasm_bindgen(js_name = forwardTimed)]
    pub fn forward_timed(&self, image: &Image, on_node: &js_sys::Function) -> Result<(), JsError> {
        let mut call = |op: &str| {
            let _ = on_node.call1(&JsValue::NULL, &JsValue::from_str(op));
        };
        self.net.engine().forward_timed(&image.input.tensor, &mut call).map_err(js_err)?;
        Ok(())
    }

    /// Bench hook: calls `on_node("", -1)` as the reverse pass starts, then `on_node(opType, nodeIndex)`
    /// after each node's VJP, so the page can attribute time to op types.
    #[wasm_bindgen(js_name = backwardTimed)]
    pub fn backward_timed(&self, image: &Image, class: usize, on_node: &js_sys::Function) -> Result<(), JsError> {
        self.net.check_class(class).map_err(js_err)?;
        let engine = self.net.engine();
        let acts = engine.forward(&image.input.tensor).map_err(js_err)?;
        let call = |op: &str, n: f64| {
            let _ = on_node.call2(&JsValue::NULL, &JsValue::from_str(op), &JsValue::from_f64(n));
        };
        call("", -1.0);
        engine
            .gradients_timed(
                &acts,
                &crate::engine::Objective::Class(class),
                &crate::backward::Wanted::input(),
                &mut |op, n| call(op, n as f64),
            )
            .map_err(js_err)?;
        Ok(())
    }
}

/// A method in progress; the worker advances it one step per message-loop turn.
#[wasm_bindgen]
pub struct MethodRun {
    spec: &'static MethodSpec,
    settings: Settings,
    settings_json: String,
    run: Box<dyn Run>,
}

fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    Reflect::set(obj, &JsValue::from_str(key), &value.into()).expect("setting a property on a plain object");
}

#[wasm_bindgen]
impl MethodRun {
    /// One step with the settings as they are now (live settings may change between steps). Returns the
    /// progress as JSON: `{done, step, total, text, frame, top: [[class, prob], …]}`.
    pub fn step(&mut self, lens: &NetLens, settings_json: &str) -> Result<String, JsError> {
        if settings_json != self.settings_json {
            self.settings = self.spec.settings_str(settings_json, lens.net.num_classes()).map_err(js_err)?;
            self.settings_json = settings_json.to_string();
        }
        let progress = lens.with_ctx(|ctx| self.run.step(ctx, &self.settings)).map_err(js_err)?;
        Ok(serde_json::to_string(&progress).expect("progress serialises"))
    }

    /// RGBA of the live image (methods with a `live` output), else undefined.
    pub fn frame(&self) -> Option<Vec<u8>> {
        self.run.frame()
    }

    /// Stop early where that still gives a result (fooling reports the image reached so far).
    pub fn finish(&mut self, lens: &NetLens) -> Result<(), JsError> {
        lens.with_ctx(|ctx| self.run.finish(ctx)).map_err(js_err)
    }

    /// `[{id, kind, title, width, height, rgba, raw?, rawShape?, plot?}]` once done.
    pub fn panels(&self) -> Array {
        let out = Array::new();
        for p in self.run.panels() {
            let obj = Object::new();
            set(&obj, "id", p.id);
            set(&obj, "kind", serde_json::to_value(p.kind).expect("kind serialises").as_str().unwrap_or("image"));
            set(&obj, "title", p.title.as_str());
            set(&obj, "width", p.width);
            set(&obj, "height", p.height);
            set(&obj, "rgba", Uint8Array::from(&p.rgba[..]));
            if let Some(raw) = &p.raw {
                set(&obj, "raw", Float32Array::from(&raw.data[..]));
                let shape: Array = raw.shape.iter().map(|&d| JsValue::from(d as u32)).collect();
                set(&obj, "rawShape", shape);
            }
            if let Some(plot) = &p.plot {
                set(&obj, "plot", js_sys::JSON::parse(&plot.to_string()).unwrap_or(JsValue::NULL));
            }
            out.push(&obj);
        }
        out
    }

    /// Method-specific results as JSON, with `lines: [[label, text], …]` for a `stats` output.
    pub fn report(&self) -> String {
        self.run.report().to_string()
    }

    /// A finished part's raw results (runs started by `startPart`), as bytes for `merge`; else undefined.
    #[wasm_bindgen(js_name = partResult)]
    pub fn part_result(&self) -> Option<Vec<u8>> {
        self.run.part().map(|p| p.to_bytes())
    }
}
