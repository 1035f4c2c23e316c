#!/bin/sh
# First start of the production database: astguard's own role, not a superuser, owning only
# its database (the least privilege astguard's migrations and service need).
set -eu
password=$(tr -d '\n' < /run/secrets/astguard_db_password)
app_password=$(tr -d '\n' < /run/secrets/astguard_app_password)
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v pw="$password" -v app_pw="$app_password" <<'SQL'
-- The owner of the tables: `astguard db migrate` only (the migrate service).
CREATE ROLE astguard LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'pw';
CREATE DATABASE astguard OWNER astguard;
REVOKE ALL ON DATABASE astguard FROM PUBLIC;
-- Migration 0008 (least privilege) grants the service's rights to this group role (astguard
-- cannot create roles); `astguard serve` logs in as astguard_app, a member of it: it can
-- insert and read evidence, never alter a table, disable a trigger or rewrite the chain.
CREATE ROLE astguard_service NOLOGIN;
GRANT CONNECT, TEMPORARY ON DATABASE astguard TO astguard_service;
CREATE ROLE astguard_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE astguard_service
    PASSWORD :'app_pw';
SQL
