pub(crate) mod into_conflict_clause;
pub(crate) mod on_conflict_actions;
pub(crate) mod on_conflict_clause;
pub(crate) mod on_conflict_target;
pub(crate) mod on_conflict_target_decorations;
