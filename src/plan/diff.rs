//! Pure diff of desired vs live state.
use crate::model::OrgState;
use crate::plan::Plan;

pub fn diff(_desired: &OrgState, _live: &OrgState) -> Plan {
    unimplemented!()
}
