# One image for web, worker and beat; the compose services differ only by command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends gettext fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN pip install . \
    && DJANGO_SECRET_KEY=build DJANGO_DEBUG=0 DJANGO_ALLOWED_HOSTS=build \
       FIELD_ENCRYPTION_KEYS=ZGV2ZWxvcG1lbnQta2V5LWZvci1ncm9rd2ViLW9ubHk= \
       REDIS_URL=redis://build EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend \
       python manage.py collectstatic --noinput \
    && useradd --create-home grokweb && mkdir -p /app/var && chown -R grokweb /app/var
USER grokweb
EXPOSE 8000
CMD ["gunicorn", "grokweb.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
