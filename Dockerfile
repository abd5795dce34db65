# Concord application image: one image for web (gunicorn), worker, beat and the migrate job.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    PATH=/opt/venv/bin:$PATH \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
RUN pip install --no-cache-dir "uv==0.13.9" \
    && useradd --system --create-home --uid 10001 concord

COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
# collectstatic needs settings but no servers: the build-time values below never reach a container.
RUN SECRET_KEY=build-only DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --no-input -v 0 \
    && chown -R concord /app

USER concord
EXPOSE 8000
CMD ["gunicorn", "erp.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", \
     "--access-logfile", "-"]
