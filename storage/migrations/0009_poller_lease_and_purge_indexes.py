from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_client_awaiting_email')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PollerLease',
            fields=[
                ('bot_id', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
                ('holder', fields.CharField(max_length=128)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'poller_lease', 'app': 'models', 'pk_attr': 'bot_id'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Outbox',
            index=Index(fields=['status', 'sent_at'], name='outbox_done_idx'),
        ),
        ops.AddIndex(
            model_name='StaffRelay',
            index=Index(fields=['created_at'], name='staff_relay_created_idx'),
        ),
        ops.AddIndex(
            model_name='TelegramUpdate',
            index=Index(fields=['received_at'], name='telegram_update_received_idx'),
        ),
    ]
