from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_chat_ownership')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LoginFailure',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('address', fields.CharField(max_length=64)),
                ('email_key', fields.CharField(max_length=64)),
                ('failed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'login_failure', 'app': 'models', 'indexes': [Index(fields=['address', 'failed_at'], name='login_failure_address_idx'), Index(fields=['email_key', 'failed_at'], name='login_failure_email_idx'), Index(fields=['failed_at'], name='login_failure_age_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
