//! Test databases cloned from a database of the caller's choice (what
//! `TEST_TEMPLATE_DATABASE` selects for `TestDb::migrated`).

use bookstore_testing::{TestDb, scalar};

#[test]
fn a_test_database_can_be_cloned_from_a_chosen_template_as_it_is() {
    let template = TestDb::empty("template_source");
    {
        let mut conn = template.connect();
        conn.batch_execute("CREATE TABLE marker (id int); INSERT INTO marker VALUES (7)")
            .unwrap();
    }
    let clone = TestDb::cloned_from(template.name(), "template_clone");
    let mut conn = clone.connect();
    assert_eq!(
        scalar(&mut conn, "SELECT max(id)::bigint AS n FROM marker"),
        7
    );
    assert_ne!(clone.name(), template.name());
}
