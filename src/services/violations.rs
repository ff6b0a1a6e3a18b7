//! Gathering every violation of a mutation's input before refusing it (issue 15): a form
//! highlights all its bad fields at once instead of one per submit.
//!
//! A use case runs its input checks against a [`Violations`], which records each failure
//! (field path, code, message) and lets the checks go on; at the end of the input-checking
//! phase [`Violations::done`] turns what was gathered into one rejection, or hands back the
//! checked values. Checks that need an earlier one to pass (a record must exist before its
//! state is checked) simply do not run when it failed: their input is `None`.
//!
//! Kept free of GraphQL and of the database so that the parsed domain types of issue 14 can
//! report into it as they are.

use crate::domain::violation::Violation;
use crate::domain::violation::ViolationCode;
use crate::error::{Field, Rejection, ServiceError};

/// The violations found so far in one mutation's input, in the order they were checked
/// (the order of the input's fields and lines), without duplicates.
#[derive(Debug, Default)]
#[must_use = "violations are reported only by `done` or `finish`"]
pub(crate) struct Violations {
    errors: Vec<Rejection>,
}

impl Violations {
    /// No violation yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records a violation on `field` (`lines[0].quantity`); the same one twice is recorded
    /// once.
    pub(crate) fn add(
        &mut self,
        code: ViolationCode,
        field: impl Into<Field>,
        message: impl Into<String>,
    ) {
        self.push(Rejection::new(code, field, message));
    }

    fn push(&mut self, error: Rejection) {
        if !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }

    /// Records the violation of a domain check on `field` (a bare message is
    /// `INVALID_INPUT`); the checked value when it passed.
    pub(crate) fn check<T, E: Into<Violation>>(
        &mut self,
        result: Result<T, E>,
        field: impl Into<Field>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.push(Rejection::of(e.into(), field));
                None
            }
        }
    }

    /// Takes the result of a check that may also fail otherwise (a database read): its
    /// refusals are recorded and the checks go on, any other failure ends the use case.
    pub(crate) fn take<T>(
        &mut self,
        result: Result<T, ServiceError>,
    ) -> Result<Option<T>, ServiceError> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(ServiceError::Rejected(errors)) => {
                for error in errors {
                    self.push(error);
                }
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    /// Adds the violations gathered in `other` after those found so far (a check whose
    /// violations belong later in the input's order than ones found after it).
    pub(crate) fn append(&mut self, other: Violations) {
        for error in other.errors {
            self.push(error);
        }
    }

    /// Ends the input-checking phase: nothing found, or the rejection with all of it.
    pub(crate) fn finish(self) -> Result<(), ServiceError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Rejected(self.errors))
        }
    }

    /// Ends the input-checking phase and hands back the checked values (a tuple of `Option`s,
    /// each `None` only when its check failed): all of them when nothing was found, else the
    /// rejection with every violation.
    pub(crate) fn done<C: Checked>(self, values: C) -> Result<C::Values, ServiceError> {
        match (self.errors.is_empty(), values.all()) {
            (true, Some(values)) => Ok(values),
            (true, None) => Err(ServiceError::Internal(
                "an input check failed without reporting a violation".into(),
            )),
            (false, _) => Err(ServiceError::Rejected(self.errors)),
        }
    }
}

/// Checked values, each present only when its check passed.
pub(crate) trait Checked {
    /// The values when all are present.
    type Values;
    /// All the values, or `None` when one is missing.
    fn all(self) -> Option<Self::Values>;
}

impl<A> Checked for Option<A> {
    type Values = A;
    fn all(self) -> Option<A> {
        self
    }
}

macro_rules! checked_tuple {
    ($($t:ident),+) => {
        impl<$($t),+> Checked for ($(Option<$t>,)+) {
            type Values = ($($t,)+);
            #[allow(non_snake_case)]
            fn all(self) -> Option<Self::Values> {
                let ($($t,)+) = self;
                Some(($($t?,)+))
            }
        }
    };
}

checked_tuple!(A);
checked_tuple!(A, B);
checked_tuple!(A, B, C);
checked_tuple!(A, B, C, D);
checked_tuple!(A, B, C, D, E);
checked_tuple!(A, B, C, D, E, F);
checked_tuple!(A, B, C, D, E, F, G);
checked_tuple!(A, B, C, D, E, F, G, H);
checked_tuple!(A, B, C, D, E, F, G, H, I);
checked_tuple!(A, B, C, D, E, F, G, H, I, J);
checked_tuple!(A, B, C, D, E, F, G, H, I, J, K);
checked_tuple!(A, B, C, D, E, F, G, H, I, J, K, L);

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(err: ServiceError) -> Vec<Field> {
        match err {
            ServiceError::Rejected(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("not a rejection: {other:?}"),
        }
    }

    #[test]
    fn every_violation_is_reported_in_the_order_checked_and_once() {
        let mut v = Violations::new();
        let a = v.check(Err::<i32, _>("bad a".to_owned()), Field::of("a"));
        let b = v.check(Ok::<_, String>(2), Field::of("b"));
        v.add(ViolationCode::NotFound, Field::of("c"), "no such c");
        v.add(ViolationCode::NotFound, Field::of("c"), "no such c");
        let d = v
            .take(Err::<i32, _>(ServiceError::user(
                ViolationCode::InvalidInput,
                Field::of("lines").at(1).then("d"),
                "bad d",
            )))
            .unwrap();
        assert_eq!((a, b, d), (None, Some(2), None));
        assert_eq!(
            fields(v.done((a, b, d)).unwrap_err()),
            [
                Field::of("a"),
                Field::of("c"),
                Field::of("lines").at(1).then("d")
            ]
        );
    }

    #[test]
    fn checked_values_come_back_when_nothing_was_found() {
        let mut v = Violations::new();
        let a = v.check(Ok::<_, String>(1), Field::of("a"));
        let b = v.take(Ok::<_, ServiceError>("b")).unwrap();
        assert_eq!(v.done((a, b)).unwrap(), (1, "b"));
    }

    #[test]
    fn a_fault_is_not_gathered_but_ends_the_use_case() {
        let mut v = Violations::new();
        assert!(v
            .take(Err::<(), _>(ServiceError::Internal("x".into())))
            .is_err());
        assert!(v.finish().is_ok(), "nothing was gathered");
    }
}
