//! PGD in L2 (torchattacks' PGDL2, in pixel units): steps of α·g/‖g‖₂, projected onto the L2 ball of radius ε
//! over all 3×224×224 values. ε = 255 and α = 51 are torchattacks' defaults 1.0 and 0.2 in [0, 1] units.

use super::{
    alpha_setting, eps_setting, settings_of, steps_setting, AttackRun, Norm, EARLY_STOP, OUTPUTS, RANDOM_START, SEED,
    TARGET,
};
use crate::methods::contract::{Group, MethodSpec, Paper};

pub static PGD_L2: MethodSpec = MethodSpec {
    id: "pgd_l2",
    title: "PGD (L2)",
    summary: "Projected gradient descent in an L2 ball: the change may be large on a few pixels, small in total.",
    paper: Paper {
        cite: "Madry et al. 2018, Towards Deep Learning Models Resistant to Adversarial Attacks",
        url: "https://arxiv.org/abs/1706.06083",
    },
    group: Group::Adversarial,
    needs_image: true,
    link_prefix: "pgdl2",
    cost: "steps × (forward + backward)",
    passes: None,
    compare: false,
    run_label: "Attack",
    auto_run: false,
    settings: &[
        eps_setting(
            255.0,
            100_000.0,
            "Largest L2 norm of the whole change, in pixel units (255 = 1.0 in [0, 1] units).",
        ),
        alpha_setting(51.0, 100_000.0),
        steps_setting(10),
        TARGET,
        RANDOM_START,
        SEED,
        EARLY_STOP,
    ],
    outputs: OUTPUTS,
    start: |ctx, input, s| {
        AttackRun::start(ctx, input.expect("checked by the registry"), settings_of(s, Norm::L2, None, None))
    },
    attribution: None,
    sharding: None,
    requires: None,
};
