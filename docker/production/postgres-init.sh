#!/bin/sh
# First start of the production database: astguard's own role, not a superuser, owning only
# its database (the least privilege astguard's migrations and service need).
set -eu
password=$(tr -d '\n' < /run/secrets/astguard_db_password)
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v pw="$password" <<'SQL'
CREATE ROLE astguard LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'pw';
CREATE DATABASE astguard OWNER astguard;
REVOKE ALL ON DATABASE astguard FROM PUBLIC;
SQL
