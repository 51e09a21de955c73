//! L∞ attacks, as torchattacks defines them (in pixel units here): FGSM (one step of ε·sign(∇)), BIM (steps of
//! α·sign(∇) from the image) and PGD (the same, optionally from a random point of the ε-ball).

use super::{
    alpha_setting, eps_setting, settings_of, steps_setting, AttackRun, Norm, EARLY_STOP, OUTPUTS, RANDOM_START, SEED,
    TARGET,
};
use crate::methods::contract::{Group, MethodSpec, Paper};

pub static FGSM: MethodSpec = MethodSpec {
    id: "fgsm",
    title: "FGSM",
    summary: "One step of size ε along the sign of the loss gradient: the fastest adversarial example.",
    paper: Paper {
        cite: "Goodfellow et al. 2015, Explaining and Harnessing Adversarial Examples",
        url: "https://arxiv.org/abs/1412.6572",
    },
    group: Group::Adversarial,
    needs_image: true,
    link_prefix: "fgsm",
    cost: "1 forward + backward",
    passes: Some(2),
    compare: false,
    run_label: "Attack",
    auto_run: false,
    settings: &[eps_setting(8.0, 255.0, "Largest change of any value, in pixel units (0–255)."), TARGET],
    outputs: OUTPUTS,
    start: |ctx, input, s| {
        let a = settings_of(s, Norm::Linf, Some(1), Some(s.float("eps")));
        AttackRun::start(ctx, input.expect("checked by the registry"), a)
    },
    attribution: None,
    sharding: None,
    requires: None,
};

pub static BIM: MethodSpec = MethodSpec {
    id: "bim",
    title: "BIM (iterative FGSM)",
    summary: "Many small sign-gradient steps, each projected back into the ε-box around the image.",
    paper: Paper {
        cite: "Kurakin et al. 2017, Adversarial examples in the physical world",
        url: "https://arxiv.org/abs/1607.02533",
    },
    group: Group::Adversarial,
    needs_image: true,
    link_prefix: "bim",
    cost: "steps × (forward + backward)",
    passes: None,
    compare: false,
    run_label: "Attack",
    auto_run: false,
    settings: &[
        eps_setting(8.0, 255.0, "Largest change of any value, in pixel units (0–255)."),
        alpha_setting(1.0, 255.0),
        steps_setting(10),
        TARGET,
        EARLY_STOP,
    ],
    outputs: OUTPUTS,
    start: |ctx, input, s| {
        AttackRun::start(ctx, input.expect("checked by the registry"), settings_of(s, Norm::Linf, None, None))
    },
    attribution: None,
    sharding: None,
    requires: None,
};

pub static PGD: MethodSpec = MethodSpec {
    id: "pgd",
    title: "PGD (L∞)",
    summary:
        "Projected gradient descent in the ε-box: BIM, optionally from a random start; the standard strong attack.",
    paper: Paper {
        cite: "Madry et al. 2018, Towards Deep Learning Models Resistant to Adversarial Attacks",
        url: "https://arxiv.org/abs/1706.06083",
    },
    group: Group::Adversarial,
    needs_image: true,
    link_prefix: "pgd",
    cost: "steps × (forward + backward)",
    passes: None,
    compare: false,
    run_label: "Attack",
    auto_run: false,
    settings: &[
        eps_setting(8.0, 255.0, "Largest change of any value, in pixel units (0–255)."),
        alpha_setting(2.0, 255.0),
        steps_setting(10),
        TARGET,
        RANDOM_START,
        SEED,
        EARLY_STOP,
    ],
    outputs: OUTPUTS,
    start: |ctx, input, s| {
        AttackRun::start(ctx, input.expect("checked by the registry"), settings_of(s, Norm::Linf, None, None))
    },
    attribution: None,
    sharding: None,
    requires: None,
};
