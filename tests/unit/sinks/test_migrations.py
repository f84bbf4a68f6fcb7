from sinks.clickhouse.migrate import available_migrations, split_statements


def test_migrations_are_ordered_and_unique():
    versions = [v for v, _, _ in available_migrations()]
    assert versions == sorted(set(versions)) and versions[0] == 1


def test_every_statement_is_idempotent():
    for version, name, text in available_migrations():
        for stmt in split_statements(text):
            assert "IF NOT EXISTS" in stmt.upper(), f"{version}_{name}: {stmt[:80]}"
