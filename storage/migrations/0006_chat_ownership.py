from tortoise import migrations
from tortoise.migrations import operations as ops
from storage.models import AssignmentReason, AssignmentTarget, ChatStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_order_personal_manager')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChatRead',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('employee', fields.ForeignKeyField('models.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name='chat_reads', on_delete=OnDelete.CASCADE)),
                ('chat', fields.ForeignKeyField('models.Chat', source_field='chat_id', db_constraint=True, to_field='id', related_name='reads', on_delete=OnDelete.CASCADE)),
                ('last_read_message_id', fields.BigIntField()),
                ('read_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'chat_read', 'app': 'models', 'unique_together': (('employee', 'chat'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Account',
            name='first_response_minutes',
            field=fields.IntField(default=15, db_default=15),
        ),
        ops.AddField(
            model_name='Account',
            name='reassign_unanswered',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AlterField(
            model_name='AssignmentLog',
            name='reason',
            field=fields.CharEnumField(description='STICKY: sticky\nROTATION: rotation\nFALLBACK: fallback\nMANUAL: manual\nGROUP: group\nTAKEN: taken\nDETACHED: detached\nPERSONAL: personal\nORDER: order\nOWNER_FALLBACK: owner_fallback\nTAKE: take\nHANDOVER: handover\nUNANSWERED: unanswered', enum_type=AssignmentReason, max_length=16),
        ),
        ops.AlterField(
            model_name='AssignmentLog',
            name='target',
            field=fields.CharEnumField(description='ORDER: order\nCLIENT: client\nCHAT: chat', enum_type=AssignmentTarget, max_length=10),
        ),
        ops.AddField(
            model_name='AssignmentLog',
            name='chat',
            field=fields.ForeignKeyField('models.Chat', source_field='chat_id', null=True, db_constraint=True, to_field='id', related_name='assignment_logs', on_delete=OnDelete.CASCADE),
        ),
        ops.AddIndex(
            model_name='AssignmentLog',
            index=Index(fields=['chat_id', 'created_at'], name='assignment_log_chat_idx'),
        ),
        ops.AddField(
            model_name='Chat',
            name='assignee',
            field=fields.ForeignKeyField('models.Employee', source_field='assignee_id', null=True, db_constraint=True, to_field='id', related_name='assigned_chats', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Chat',
            name='last_inbound_message_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Chat',
            name='snoozed_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Chat',
            name='status',
            field=fields.CharEnumField(default=ChatStatus.OPEN, description='OPEN: open\nPENDING: pending\nSNOOZED: snoozed\nRESOLVED: resolved', db_default='open', enum_type=ChatStatus, max_length=10),
        ),
        ops.AddField(
            model_name='Chat',
            name='unanswered_alerted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Chat',
            name='waiting_since',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Chat',
            index=Index(fields=['account_id', 'assignee_id', 'last_message_at'], name='chat_assignee_idx'),
        ),
        ops.AddIndex(
            model_name='Chat',
            index=Index(fields=['status', 'waiting_since'], name='chat_waiting_idx'),
        ),
        # Existing chats (SPEC §10.1): the client's personal manager answers for his chat, else the manager of his
        # latest open order, else nobody yet (his next message routes it). Every chat starts open. Correlated
        # subqueries read the same on both databases. Waiting times stay empty: history raises no first-response alert.
        ops.RunSQL(
            "UPDATE chat SET assignee_id = COALESCE("
            " (SELECT client.personal_manager_id FROM client WHERE client.id = chat.client_id),"
            " (SELECT orders.order_manager_id FROM orders WHERE orders.client_id = chat.client_id"
            "  AND orders.status IN ('new', 'awaiting_payment', 'failed') AND orders.order_manager_id IS NOT NULL"
            "  ORDER BY orders.created_at DESC, orders.id DESC LIMIT 1)),"
            " last_inbound_message_id = (SELECT MAX(message.id) FROM message"
            "  WHERE message.chat_id = chat.id AND message.direction = 'in')",
            reverse_sql="SELECT 1",
        ),
    ]
