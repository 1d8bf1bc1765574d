from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_login_failure')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Client',
            name='awaiting_email',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
