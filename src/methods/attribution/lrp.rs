//! Layer-wise relevance propagation (Bach et al. 2015) with three composites — which rule on which layer, as
//! data (src/rules/): Zennit's `EpsilonPlusFlat` and `EpsilonGammaBox`, and `epsilon`, Captum's `LRP` with its
//! default rules. The class's relevance (1 for Zennit's composites; the logit itself for Captum's, whose
//! attributions it scales by the output) flows back to the input, [3, H, W]; conservation — how much of it
//! arrives — is reported as Integrated Gradients' completeness is.

use std::sync::Arc;

use serde_json::{json, Value as Json};

use super::{drop_batch, AttributionRun, Stepper, Style, CLASS, SIGNED_OUTPUTS};
use crate::backward::Wanted;
use crate::engine::Objective;
use crate::error::Result;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper, BACKWARD, FORWARD};
use crate::methods::settings::{ChoiceOption, Kind, SettingSpec, Settings};
use crate::network::Classifier;
use crate::rules::{Composite, Epsilon, Flat, Gamma, Pass, Rule, ZBox, ZPlus, STABILIZER};
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "lrp",
    title: "LRP",
    summary: "The class score handed back layer by layer, each layer's share in proportion to what its inputs contributed: relevance that adds up.",
    paper: Paper { cite: "Bach et al. 2015, Layer-wise Relevance Propagation", url: "https://doi.org/10.1371/journal.pone.0130140" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "lrp",
    cost: "1 forward + a backward with 2–8 products per convolution",
    passes: Some(2),
    compare: true,
    run_label: "Compute",
    auto_run: true,
    settings: &[
        CLASS,
        SettingSpec {
            key: "composite",
            link: "composite",
            label: "Rules",
            help: "Which rule on which layer: Zennit's EpsilonPlusFlat (flat first layer, z⁺ convolutions, ε dense layers), EpsilonGammaBox (z^B first layer within the input's range, γ convolutions), or ε everywhere with the score as the relevance (Captum's LRP).",
            kind: Kind::Choice {
                options: &[
                    ChoiceOption { value: "epsilon-plus-flat", label: "ε + z⁺ + flat (Zennit)" },
                    ChoiceOption { value: "epsilon-gamma-box", label: "ε + γ + box (Zennit)" },
                    ChoiceOption { value: "epsilon", label: "ε everywhere (Captum)" },
                ],
                default: "epsilon-plus-flat",
            },
            live: false,
        },
        SettingSpec {
            key: "epsilon",
            link: "eps",
            label: "ε",
            help: "The ε of the ε rule (dense layers; every layer in the ε composite, where Captum uses 1e-9): larger values absorb weak, contradictory relevance.",
            kind: Kind::Float { min: 0.0, max: 10.0, min_exclusive: false, default: 1e-6 },
            live: false,
        },
        SettingSpec {
            key: "gamma",
            link: "gamma",
            label: "γ",
            help: "How much the γ rule favours positive contributions (ε + γ + box only).",
            kind: Kind::Float { min: 0.0, max: 100.0, min_exclusive: false, default: 0.25 },
            live: false,
        },
    ],
    outputs: SIGNED_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &SPEC),
    // A forward pass, the reverse pass, and z⁺'s evaluation of every convolution with its positive weights (the
    // default composite; Zennit's rules evaluate each layer so too): about one forward pass more than a gradient.
    attribution: Some(Attributor { make, pass_cost: BACKWARD + FORWARD }),
    sharding: None,
    requires: None,
};

/// Ops whose relevance is their gradient in every composite: layout, and max pools (the winner takes it).
const GRADIENT: &[&str] = &[
    "MaxPool",
    "Concat",
    "Reshape",
    "Flatten",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Split",
    "Slice",
    "Identity",
    "Dropout",
    "Pad",
];
const ACTIVATIONS: &[&str] =
    &["Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "Elu", "Selu", "HardSigmoid", "HardSwish", "PRelu"];
const POOLS: &[&str] = &["AveragePool", "GlobalAveragePool"];

/// The composite a run's settings name, for a model with `net`'s preprocessing (the box of ε + γ + box).
fn composite(net: &Classifier, s: &Settings) -> Composite {
    let eps = s.float("epsilon");
    let norm = || -> Arc<dyn Rule> { Arc::new(Epsilon(STABILIZER)) };
    let base = |conv: Arc<dyn Rule>| {
        vec![
            (ACTIVATIONS, Arc::new(Pass) as Arc<dyn Rule>),
            (&["Add", "Sum"][..], norm()),
            (POOLS, norm()),
            (&["Conv"][..], conv),
            (&["Gemm", "MatMul"][..], Arc::new(Epsilon(eps)) as Arc<dyn Rule>),
        ]
    };
    match s.text("composite") {
        "epsilon-gamma-box" => {
            let pre = net.preprocess();
            let (low, high): (Vec<f32>, Vec<f32>) = (0..pre.channels).map(|c| pre.valid_range(c)).unzip();
            Composite {
                name: "ε + γ + box",
                first: Some((&["Conv"], Arc::new(ZBox { low, high }))),
                layers: base(Arc::new(Gamma(s.float("gamma")))),
                gradient: GRADIENT,
            }
        }
        "epsilon" => {
            let e = || -> Arc<dyn Rule> { Arc::new(Epsilon(eps)) };
            Composite {
                name: "ε",
                first: None,
                layers: vec![
                    (&["Relu", "Tanh", "Dropout"], Arc::new(Pass)),
                    (
                        &[
                            "Conv",
                            "Gemm",
                            "MatMul",
                            "MaxPool",
                            "AveragePool",
                            "GlobalAveragePool",
                            "BatchNormalization",
                        ],
                        e(),
                    ),
                ],
                // No residual Add: Captum's rules are on modules and it does not support skip connections (its
                // relevance then grows without bound: 1.1e7 % conservation on resnet10), so the composite refuses one.
                gradient: &[
                    "Concat",
                    "Reshape",
                    "Flatten",
                    "Transpose",
                    "Squeeze",
                    "Unsqueeze",
                    "Split",
                    "Slice",
                    "Identity",
                    "Pad",
                ],
            }
        }
        _ => Composite {
            name: "ε + z⁺ + flat",
            first: Some((&["Conv", "Gemm", "MatMul"], Arc::new(Flat))),
            layers: base(Arc::new(ZPlus)),
            gradient: GRADIENT,
        },
    }
}

pub fn make(net: &Classifier, x: &Tensor, class: usize, s: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    let composite = composite(net, s);
    // Refused now (an op without a rule) rather than on the first step.
    composite.rules(net.engine().graph())?;
    let logit_seed = s.text("composite") == "epsilon";
    Ok((Box::new(Lrp { x: x.clone(), class, composite, logit_seed, map: None }), Style::Signed))
}

struct Lrp {
    x: Tensor,
    class: usize,
    composite: Composite,
    /// Captum's convention: the relevance put in is the class logit, not 1.
    logit_seed: bool,
    map: Option<(Tensor, Json)>,
}

impl Stepper for Lrp {
    fn total(&self) -> usize {
        1
    }
    fn done(&self) -> usize {
        usize::from(self.map.is_some())
    }
    fn step(&mut self, net: &Classifier) -> Result<()> {
        net.check_class(self.class)?;
        let engine = net.engine();
        let graph = engine.graph();
        let rules = self.composite.rules(graph)?;
        let reads: Vec<String> = rules.reads(graph).into_iter().map(|id| graph.values[id].name.clone()).collect();
        let acts = engine.forward_with(&self.x, &reads.iter().map(String::as_str).collect::<Vec<_>>())?;
        let put_in = if self.logit_seed { acts.output().data[self.class] } else { 1.0 };
        let objective = Objective::Weighted(vec![(self.class, put_in)]);
        let mut store = engine.gradients(&acts, &objective, &Wanted { at: vec![], input: true, rules })?;
        let relevance = drop_batch(store.take(graph.input).expect("the input relevance was asked for"));
        let sum: f64 = relevance.data.iter().map(|&v| v as f64).sum();
        let text = format!("relevance sums to {sum:.4} of {put_in:.4} put in ({:.1}%)", 100.0 * sum / put_in as f64);
        let extra = json!({ "conservation": { "label": "Conservation", "sum": sum, "put_in": put_in, "text": text } });
        self.map = Some((relevance, extra));
        Ok(())
    }
    fn result(&self) -> Result<(Tensor, Json)> {
        Ok(self.map.clone().expect("the pass is done"))
    }
}
