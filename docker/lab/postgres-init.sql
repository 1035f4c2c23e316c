-- Run once by the postgres image when it creates its cluster (/docker-entrypoint-initdb.d):
-- the roles of migration 0008. `astguard` (POSTGRES_USER) owns the tables and migrates;
-- `astguard serve` logs in as astguard_app, a member of astguard_service (least privilege).
CREATE ROLE astguard_service NOLOGIN;
CREATE ROLE astguard_app LOGIN PASSWORD 'astguard-app' IN ROLE astguard_service;
