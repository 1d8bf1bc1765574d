"""The business rules of closer (SPEC §1–§5): assignment, clients, dialogs, important items, commission, payments.

Plain async functions over the storage models. No transport: the bot, the inbox and the jobs call these and turn
their results and errors into their own medium.
"""
