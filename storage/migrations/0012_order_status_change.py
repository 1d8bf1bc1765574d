from tortoise import migrations
from tortoise.migrations import operations as ops
from storage.models import OrderStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0011_indexes_lost_on_sqlite')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OrderStatusChange',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='status_changes', on_delete=OnDelete.CASCADE)),
                ('actor', fields.ForeignKeyField('models.Employee', source_field='actor_id', db_constraint=True, to_field='id', related_name='order_status_changes', on_delete=OnDelete.RESTRICT)),
                ('from_status', fields.CharEnumField(description='NEW: new\nAWAITING_PAYMENT: awaiting_payment\nPAID: paid\nFAILED: failed\nCANCELLED: cancelled\nREFUNDED: refunded', enum_type=OrderStatus, max_length=20)),
                ('to_status', fields.CharEnumField(description='NEW: new\nAWAITING_PAYMENT: awaiting_payment\nPAID: paid\nFAILED: failed\nCANCELLED: cancelled\nREFUNDED: refunded', enum_type=OrderStatus, max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'order_status_change', 'app': 'models', 'indexes': [Index(fields=['order_id', 'created_at'], name='order_status_change_order_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
