-- One login role per process, each owning only the schema of its own name
-- (ARCHITECTURE.md: a service never reads or writes another service's schema,
-- and the database is what enforces it, not good manners).
--
-- The postgres image runs this once, on an empty data directory, as the
-- superuser, inside POSTGRES_DB. Passwords come from the container's
-- environment (docker-compose.yml), so none is written here.
\set ON_ERROR_STOP on
\getenv opportunity_password SANLUN_OPPORTUNITY_DB_PASSWORD
\getenv employee_lifecycle_password SANLUN_EMPLOYEE_LIFECYCLE_DB_PASSWORD
\getenv key_account_password SANLUN_KEY_ACCOUNT_DB_PASSWORD
\getenv resource_share_password SANLUN_RESOURCE_SHARE_DB_PASSWORD
\getenv gateway_password SANLUN_GATEWAY_DB_PASSWORD

-- Nothing by default: PUBLIC may neither connect nor use the public schema.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec

CREATE ROLE opportunity LOGIN PASSWORD :'opportunity_password';
CREATE ROLE employee_lifecycle LOGIN PASSWORD :'employee_lifecycle_password';
CREATE ROLE key_account LOGIN PASSWORD :'key_account_password';
CREATE ROLE resource_share LOGIN PASSWORD :'resource_share_password';
CREATE ROLE gateway LOGIN PASSWORD :'gateway_password';

-- The owner has every right on its schema; no other role is granted any.
CREATE SCHEMA opportunity AUTHORIZATION opportunity;
CREATE SCHEMA employee_lifecycle AUTHORIZATION employee_lifecycle;
CREATE SCHEMA key_account AUTHORIZATION key_account;
CREATE SCHEMA resource_share AUTHORIZATION resource_share;
CREATE SCHEMA gateway AUTHORIZATION gateway;

ALTER ROLE opportunity SET search_path = opportunity;
ALTER ROLE employee_lifecycle SET search_path = employee_lifecycle;
ALTER ROLE key_account SET search_path = key_account;
ALTER ROLE resource_share SET search_path = resource_share;
ALTER ROLE gateway SET search_path = gateway;

-- CONNECT only: each schema exists already (above), and the migrations create
-- a schema only when it is missing, so no role needs CREATE on the database.
SELECT format(
    'GRANT CONNECT ON DATABASE %I TO opportunity, employee_lifecycle, key_account, resource_share, gateway',
    current_database()
) \gexec
