from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_order_manager_client_idx')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Order',
            name='personal_manager',
            field=fields.ForeignKeyField('models.Employee', source_field='personal_manager_id', null=True, db_constraint=True, to_field='id', related_name='personal_orders', on_delete=OnDelete.RESTRICT),
        ),
        # Existing orders take their client's personal manager (a correlated subquery: the same on both databases).
        ops.RunSQL(
            "UPDATE orders SET personal_manager_id ="
            " (SELECT client.personal_manager_id FROM client WHERE client.id = orders.client_id)",
            reverse_sql="SELECT 1",
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['account_id', 'personal_manager_id', 'created_at'], name='order_personal_manager_idx'),
        ),
    ]
