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
