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
-- Migration 0008 (least privilege) grants the service's rights to this group role; astguard
-- cannot create roles. Give `astguard serve` its own login role in it (docs/operations.md).
CREATE ROLE astguard_service NOLOGIN;
GRANT CONNECT, TEMPORARY ON DATABASE astguard TO astguard_service;
SQL
