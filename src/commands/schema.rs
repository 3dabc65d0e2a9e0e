//! `vetted schema`: the JSON Schema of the policy on stdout (made by [`crate::policy::schema`] from
//! the key lists the policy's walker checks against). Offline.

use crate::error::{Error, Outcome};

pub fn run() -> Result<Outcome, Error> {
    super::print_out(&crate::policy::schema::json_schema())?;
    Ok(Outcome::Ok)
}
