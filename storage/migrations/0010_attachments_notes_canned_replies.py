from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from storage.models import AttachmentKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_poller_lease_and_purge_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Attachment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', db_constraint=True, to_field='id', related_name='attachments', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='PHOTO: photo\nDOCUMENT: document\nVOICE: voice\nAUDIO: audio\nVIDEO: video\nVIDEO_NOTE: video_note\nSTICKER: sticker\nANIMATION: animation', enum_type=AttachmentKind, max_length=12)),
                ('file_name', fields.CharField(default='', max_length=255)),
                ('mime_type', fields.CharField(default='application/octet-stream', max_length=127)),
                ('size', fields.BigIntField(null=True)),
                ('bot_id', fields.BigIntField(null=True)),
                ('telegram_file_id', fields.CharField(null=True, max_length=255)),
                ('telegram_file_unique_id', fields.CharField(null=True, max_length=64)),
                ('stored_path', fields.CharField(null=True, max_length=500)),
                ('sha256', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'attachment', 'app': 'models', 'indexes': [Index(fields=['message_id'], name='attachment_message_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CannedReply',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='canned_replies', on_delete=OnDelete.RESTRICT)),
                ('shortcut', fields.CharField(max_length=32)),
                ('text', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'canned_reply', 'app': 'models', 'unique_together': (('account', 'shortcut'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChatNote',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('chat', fields.ForeignKeyField('models.Chat', source_field='chat_id', db_constraint=True, to_field='id', related_name='notes', on_delete=OnDelete.CASCADE)),
                ('employee', fields.ForeignKeyField('models.Employee', source_field='employee_id', db_constraint=True, to_field='id', related_name='chat_notes', on_delete=OnDelete.RESTRICT)),
                ('text', fields.TextField(unique=False)),
                ('mentioned', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'chat_note', 'app': 'models', 'indexes': [Index(fields=['chat_id', 'created_at'], name='chat_note_history_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
