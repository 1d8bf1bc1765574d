from tortoise import migrations
from tortoise.migrations import operations as ops

# On SQLite, 0006 rebuilt assignment_log and outbox to change their columns, and the copies lost these indexes
# (PostgreSQL kept them). IF NOT EXISTS: the same statement is a no-op where they stand.
_INDEXES = (
    ("assignment_log_order_idx", "assignment_log", "order_id, created_at"),
    ("assignment_log_client_idx", "assignment_log", "client_id, created_at"),
    ("outbox_due_idx", "outbox", "status, available_at"),
)


class Migration(migrations.Migration):
    dependencies = [('models', '0010_attachments_notes_canned_replies')]

    initial = False

    operations = [
        ops.RunSQL(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({columns})', reverse_sql="SELECT 1")
        for name, table, columns in _INDEXES
    ]
