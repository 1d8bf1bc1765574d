FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY closer closer
COPY storage storage
COPY sales sales
COPY jobs jobs
COPY bot bot
COPY handlers handlers
COPY inbox inbox
COPY providers providers
COPY delivery delivery
COPY telegram_emulator telegram_emulator
COPY locales locales
# Editable: the code runs from /app, beside locales/ (compiled here) that the bot and the pages read.
RUN pip install --no-cache-dir -e . && pybabel compile -d locales -D messages && pybabel compile -d locales -D inbox
EXPOSE 8080
CMD ["closer", "run"]
