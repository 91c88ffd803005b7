"""The CRUD benchmark: Quart + asyncpg against Flask + psycopg on a real PostgreSQL."""
