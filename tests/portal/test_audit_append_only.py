"""Audit entries cannot be changed or deleted through the portal: the database layer refuses every
UPDATE or DELETE statement on audit_events and every change or deletion of an entry through an ORM session
(portal.accounts.audit_chain.AppendOnly), the append's own hash write excepted; and no module of the
portal or its pages names the table outside the audit trail's own modules (a raw SQL statement would
pass the first check, not this one); test_audit_completeness.py watches every statement its actions
send. The entries are made-up test events."""
from __future__ import annotations

import ast

import pytest
from sqlalchemy import delete, select, update

from engine.settings import PROJECT_ROOT as ROOT
from portal.accounts import audit, audit_chain
from portal.core.models import AuditEvent

# the modules that may name the table: its model, the trail's record/read, its chain, its export
OWNERS = {"portal/core/models.py", "portal/accounts/audit.py", "portal/accounts/audit_chain.py",
          "portal/accounts/audit_export.py"}
SCANNED = ("portal", "pages", "components", "engine")
MIGRATIONS = "portal/core/migrations"


def test_the_portal_refuses_to_change_or_delete_entries(migrated_db):
    db = migrated_db
    for k in range(3):
        audit.record("test.event", target=f"made-up-{k}", db=db)
    first = select(AuditEvent.id).order_by(AuditEvent.id).limit(1).scalar_subquery()
    for statement in (update(AuditEvent).values(outcome="denied"), delete(AuditEvent),
                      delete(AuditEvent).where(AuditEvent.id == first)):
        with pytest.raises(audit_chain.AppendOnly, match="append-only"), db.engine.begin() as connection:
            connection.execute(statement)
        with pytest.raises(audit_chain.AppendOnly), db.session() as session:  # ORM bulk statements too
            session.execute(statement)
    with pytest.raises(audit_chain.AppendOnly), db.session() as session:
        session.scalars(select(AuditEvent)).first().target = "rewritten"
    with pytest.raises(audit_chain.AppendOnly), db.session() as session:
        session.delete(session.scalars(select(AuditEvent)).first())
    with db.engine.connect() as connection:
        assert connection.execute(select(AuditEvent.target).order_by(AuditEvent.id)).scalars().all() == [
            "made-up-0", "made-up-1", "made-up-2"]
    audit.record("test.event", target="still appends", db=db)
    verdict = audit_chain.verify(db.engine)
    assert verdict.ok and verdict.entries == 4


def _names_the_table(source: str) -> list[int]:
    """Lines of a module that name AuditEvent or the audit_events table."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and node.id == "AuditEvent" or \
                isinstance(node, ast.Attribute) and node.attr == "AuditEvent" or \
                isinstance(node, ast.alias) and node.name.split(".")[-1] == "AuditEvent" or \
                isinstance(node, ast.Constant) and isinstance(node.value, str) and "audit_events" in node.value:
            lines.append(getattr(node, "lineno", 0))
    return sorted(set(lines))


def _writes(source: str) -> list[str]:
    """Where a module builds an UPDATE or DELETE, or raw SQL: `function:call`, `<module>:call` outside any."""
    tree = ast.parse(source)
    scopes = [("<module>", tree)] + [(n.name, n) for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    found = []
    for scope, node in scopes:
        inner = {id(c) for f in ast.walk(node) if f is not node and isinstance(f, ast.FunctionDef) for c in ast.walk(f)}
        for call in (n for n in ast.walk(node) if isinstance(n, ast.Call) and id(n) not in inner):
            func = call.func  # update(...), or sa.update(...): not a dict's or a set's .update()
            module = isinstance(func, ast.Attribute) and getattr(func.value, "id", None) in ("sa", "sqlalchemy")
            name = func.id if isinstance(func, ast.Name) else func.attr if module else None
            if name in ("update", "delete", "text") and call.args:
                found.append(f"{scope}:{name}")
    return sorted(set(found))


def _modules():
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if not relative.startswith(MIGRATIONS):
                yield relative, path.read_text(encoding="utf-8")


def test_only_the_audit_trail_names_its_table():
    strangers = {name: lines for name, source in _modules() if name not in OWNERS
                 and (lines := _names_the_table(source))}
    assert strangers == {}, "only the audit trail's own modules may touch audit_events"
    sources = dict(_modules())
    assert {name: _writes(sources[name]) for name in OWNERS} == {
        "portal/core/models.py": [], "portal/accounts/audit.py": [], "portal/accounts/audit_export.py": [],
        "portal/accounts/audit_chain.py": ["<module>:text"]}  # PostgreSQL's advisory lock; no UPDATE at all


def test_the_scan_finds_a_module_that_would_change_entries():
    made_up = ('from portal.core.models import AuditEvent\n'
               'def tidy(db):\n'
               '    db.execute(delete(AuditEvent))\n'
               '    db.execute(text("UPDATE audit_events SET outcome = \'ok\'"))\n')
    assert _names_the_table(made_up) == [1, 3, 4]
    assert _writes(made_up) == ["tidy:delete", "tidy:text"]
    assert _names_the_table("rows = session.query(models.AuditEvent)\n") == [1]
    assert _names_the_table("print('audit trail')\n") == [] and _writes("x = text\n") == []

