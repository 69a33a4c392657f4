-- Variants of the Durable journal trigger used for the P3 profile in docs/benchmarks.md (a scratch cluster, fsync=off).
CREATE SCHEMA s;
CREATE TABLE s.journal (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY, txid pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(), table_schema text NOT NULL, table_name text NOT NULL, operation text NOT NULL, payload json NOT NULL, written timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp());
CREATE TABLE t (id bigserial PRIMARY KEY, customer int NOT NULL, item text NOT NULL, qty int NOT NULL, created timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION s.full() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
 INSERT INTO s.journal (table_schema, table_name, operation, payload) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP,
  CASE TG_OP WHEN 'INSERT' THEN json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'action', TG_OP, 'data', row_to_json(NEW))
   WHEN 'UPDATE' THEN json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'action', TG_OP, 'data', row_to_json(NEW), 'old', row_to_json(OLD))
   ELSE json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'action', TG_OP, 'data', row_to_json(OLD)) END);
 PERFORM pg_notify('src', 'durable');
 RETURN NULL;
END $$;
CREATE FUNCTION s.nosd() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
 INSERT INTO s.journal (table_schema, table_name, operation, payload) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP,
  CASE TG_OP WHEN 'INSERT' THEN json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'action', TG_OP, 'data', row_to_json(NEW))
   WHEN 'UPDATE' THEN json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'action', TG_OP, 'data', row_to_json(NEW), 'old', row_to_json(OLD))
   ELSE json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'action', TG_OP, 'data', row_to_json(OLD)) END);
 PERFORM pg_notify('src', 'durable');
 RETURN NULL;
END $$;
CREATE FUNCTION s.nonotify() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
 INSERT INTO s.journal (table_schema, table_name, operation, payload) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP,
  json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'action', TG_OP, 'data', row_to_json(NEW)));
 RETURN NULL;
END $$;
CREATE FUNCTION s.notifyonly() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
 PERFORM pg_notify('src', 'durable');
 RETURN NULL;
END $$;
CREATE FUNCTION s.empty() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
 RETURN NULL;
END $$;
CREATE FUNCTION s.emptynosd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
 RETURN NULL;
END $$;
-- Added for the pgbench A/B (docs/benchmarks.md, "Durable P3 profile"):
CREATE FUNCTION s.jsononly() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE j json;
BEGIN
 j := json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'action', TG_OP, 'data', row_to_json(NEW));
 RETURN NULL;
END $$;
CREATE FUNCTION s.constpayload() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
 INSERT INTO s.journal (table_schema, table_name, operation, payload) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP, '{}');
 RETURN NULL;
END $$;
CREATE FUNCTION s.notifymode() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
 PERFORM pg_notify('src2', json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'action', TG_OP, 'data', row_to_json(NEW))::text);
 RETURN NULL;
END $$;
-- Each variant: CREATE TABLE p_<v> (id bigserial PRIMARY KEY, customer int NOT NULL, item text NOT NULL, qty int NOT NULL,
--   created timestamptz NOT NULL DEFAULT now()); CREATE TRIGGER tr AFTER INSERT ON p_<v> FOR EACH ROW EXECUTE FUNCTION s.<v>();
-- pgbench -n -c 2 -j 1 -T 3 -f <(echo "INSERT INTO p_<v> (customer, item, qty) VALUES (1, 'widget', 1);"), 6 interleaved rounds,
-- TRUNCATE s.journal before each run.

-- Second round (durable-perf branch, 2026-11-24): instructions per single-row INSERT transaction, counted with
-- docs/benchmarks-trigger-instructions.sh (callgrind, single-user backend: deterministic on the shared machine).
-- Each variant: its own schema v_<v> with a journal and capture(), a table p_<v> with the AFTER ROW trigger.
--   no trigger                                                      191.4 k
--   "full" above (the trigger before this round)                    318.5 k  (+127.1)
--   one INSERT per operation, same columns (no CASE expression)     308.7 k  (+117.3)
--   + only row images stored (data, old), reader builds the payload 291.9 k  (+100.5)
--   + operation as a constant, no "written" column = SHIPPED        289.9 k  ( +98.5)
--   shipped, without SET search_path (SECURITY DEFINER kept)        277.4 k  ( +86.0)
--   shipped, without pg_notify                                      278.8 k  ( +87.4)
--   shipped with jsonb / to_jsonb instead of json / row_to_json     +8.6 k more
--   "empty" above (SECURITY DEFINER SET search_path, no body)       217.9 k  ( +26.5)
--   "emptynosd" above (no SECURITY DEFINER, no SET)                  204.4 k  ( +13.0)
--   floor: identity + primary key + one NULL column, no notify      236.9 k  ( +45.5)
-- The shipped function (DurableJournalSql.FunctionBody) for a journal (id identity CACHE 1 PRIMARY KEY, txid,
-- table_schema, table_name, operation, data json, old json, payload json):
CREATE TABLE s.journal2 (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY, txid pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(), table_schema text NOT NULL, table_name text NOT NULL, operation text NOT NULL, data json, old json, payload json);
CREATE FUNCTION s.shipped() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
 IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
  INSERT INTO s.journal2 (table_schema, table_name, operation, data) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'INSERT', pg_catalog.row_to_json(NEW));
 ELSIF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
  INSERT INTO s.journal2 (table_schema, table_name, operation, data, old) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'UPDATE', pg_catalog.row_to_json(NEW), pg_catalog.row_to_json(OLD));
 ELSE
  INSERT INTO s.journal2 (table_schema, table_name, operation, data) VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'DELETE', pg_catalog.row_to_json(OLD));
 END IF;
 PERFORM pg_catalog.pg_notify('src', 'durable');
 RETURN NULL;
END $$;
-- floor: CREATE TABLE s.journal3 (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY, data json);
--   trigger body: BEGIN INSERT INTO s.journal3 (data) VALUES (NULL); RETURN NULL; END (no SECURITY DEFINER, no notify).
