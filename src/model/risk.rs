//! A change's risk class ([`Risk`]) as pure data: its names in the JSON plan, the policy's
//! `[review] require_acknowledgement` and `--acknowledge`, and its heading for people. Which class
//! a change has is decided in src/plan/risk.rs; the policy reads the classes from here.

/// A change's risk class. Ordered as listed: most pressing first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Risk {
    Privilege,
    Exposure,
    Destruction,
    Routine,
}

impl Risk {
    /// Every class, in order.
    pub const ALL: [Risk; 4] = [
        Risk::Privilege,
        Risk::Exposure,
        Risk::Destruction,
        Risk::Routine,
    ];

    /// The classes a policy may ask to be acknowledged (every one but routine).
    pub const NEEDS_ATTENTION: [Risk; 3] = [Risk::Privilege, Risk::Exposure, Risk::Destruction];

    /// The name used in the JSON plan, the policy and `--acknowledge`.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Privilege => "privilege",
            Risk::Exposure => "exposure",
            Risk::Destruction => "destruction",
            Risk::Routine => "routine",
        }
    }

    /// A heading for people: `Privilege gain`, `Exposure`, `Destruction`, `Routine`.
    pub fn title(self) -> &'static str {
        match self {
            Risk::Privilege => "Privilege gain",
            Risk::Exposure => "Exposure",
            Risk::Destruction => "Destruction",
            Risk::Routine => "Routine",
        }
    }

    /// The class named `name` (as [`Risk::as_str`] spells it).
    pub fn from_name(name: &str) -> Option<Risk> {
        Risk::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Risk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
