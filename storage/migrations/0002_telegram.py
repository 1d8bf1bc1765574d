from tortoise import migrations
from tortoise.migrations import operations as ops
from storage.models import OutboxStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StaffRelay',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='staff_relays', on_delete=OnDelete.RESTRICT)),
                ('employee', fields.ForeignKeyField('models.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name='staff_relays', on_delete=OnDelete.CASCADE)),
                ('telegram_message_id', fields.BigIntField()),
                ('client', fields.ForeignKeyField('models.Client', source_field='client_id', db_constraint=True, to_field='id', related_name='staff_relays', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'staff_relay', 'app': 'models', 'unique_together': (('employee', 'telegram_message_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TelegramInvite',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='telegram_invites', on_delete=OnDelete.RESTRICT)),
                ('employee', fields.ForeignKeyField('models.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name='telegram_invites', on_delete=OnDelete.CASCADE)),
                ('token', fields.CharField(unique=True, max_length=64)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'telegram_invite', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TelegramUpdate',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('bot_id', fields.BigIntField()),
                ('update_id', fields.BigIntField()),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'telegram_update', 'app': 'models', 'unique_together': (('bot_id', 'update_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Account',
            name='bot_token',
            field=fields.CharField(null=True, unique=True, max_length=100),
        ),
        ops.AddField(
            model_name='Account',
            name='bot_username',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Account',
            name='webhook_secret',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Client',
            name='email_asked',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Client',
            name='widget',
            field=fields.ForeignKeyField('models.Widget', source_field='widget_id', null=True, db_constraint=True, to_field='id', related_name='clients', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddConstraint(
            model_name='Employee',
            constraint=UniqueConstraint(fields=('account', 'telegram_user_id'), name=None),
        ),
        ops.AddField(
            model_name='ImportantItem',
            name='telegram_message_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AlterField(
            model_name='Outbox',
            name='status',
            field=fields.CharEnumField(default=OutboxStatus.PENDING, description='PENDING: pending\nSENT: sent\nSKIPPED: skipped\nPARKED: parked', enum_type=OutboxStatus, max_length=10),
        ),
    ]
