CREATE TABLE "applications" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"tenant_id" text COLLATE "C" NOT NULL,
	"uid" text,
	"name" text NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"throttle_rate" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "deliveries" (
	"message_id" text COLLATE "C" NOT NULL,
	"endpoint_id" text COLLATE "C" NOT NULL,
	"tenant_id" text COLLATE "C" NOT NULL,
	"status" text NOT NULL,
	"attempt_count" smallint DEFAULT 0 NOT NULL,
	"steps" smallint DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"failure_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "deliveries_message_id_endpoint_id_pk" PRIMARY KEY("message_id","endpoint_id")
);
--> statement-breakpoint
CREATE TABLE "endpoints" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"tenant_id" text COLLATE "C" NOT NULL,
	"kind" text NOT NULL,
	"app_id" text COLLATE "C",
	"run_id" text COLLATE "C",
	"uid" text,
	"url" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"filter_types" text[],
	"channels" text[],
	"disabled" boolean DEFAULT false NOT NULL,
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"throttle_rate" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "event_types" (
	"tenant_id" text COLLATE "C" NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"schemas" jsonb,
	"archived" boolean DEFAULT false NOT NULL,
	"deprecated" boolean DEFAULT false NOT NULL,
	"feature_flag" text,
	"group_name" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_types_tenant_id_name_pk" PRIMARY KEY("tenant_id","name")
);
--> statement-breakpoint
CREATE TABLE "idempotent_responses" (
	"tenant_id" text COLLATE "C" NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"status" smallint,
	"body" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotent_responses_tenant_id_key_pk" PRIMARY KEY("tenant_id","key")
);
--> statement-breakpoint
DROP INDEX "messages_tenant_status_idx";--> statement-breakpoint
DROP INDEX "messages_status_idx";--> statement-breakpoint
DROP INDEX "attempts_message_idx";--> statement-breakpoint
DROP INDEX "messages_run_idx";--> statement-breakpoint
DROP INDEX "messages_workflow_idx";--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "run_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "workflow_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "event_id" SET DATA TYPE text;--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "event_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "payload" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "attempts" ADD COLUMN "endpoint_id" text COLLATE "C";--> statement-breakpoint
ALTER TABLE "attempts" ADD COLUMN "url" text;--> statement-breakpoint
ALTER TABLE "attempts" ADD COLUMN "response_expunged_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "app_id" text COLLATE "C";--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "channels" text[];--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "expunged_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "endpoint_id" text COLLATE "C";--> statement-breakpoint
ALTER TABLE "signing_secrets" ADD COLUMN "endpoint_id" text COLLATE "C";--> statement-breakpoint
-- Existing data moves to the destination model (docs/architecture.md, "Destinations"): each run
-- webhook becomes an endpoint of kind run (its id derived from the run's, so it is stable), each
-- message gets its one delivery, and each attempt names its endpoint and URL.
INSERT INTO "endpoints" ("id", "tenant_id", "kind", "run_id", "url", "headers", "created_at", "updated_at")
SELECT 'ep_' || substr(r."id", 5), r."tenant_id", 'run', r."id", r."webhook"->>'url',
  coalesce((r."webhook"->'headers')::jsonb, '{}'::jsonb), r."created_at", r."created_at"
FROM "runs" r WHERE r."webhook" IS NOT NULL;--> statement-breakpoint
INSERT INTO "endpoints" ("id", "tenant_id", "kind", "url", "headers", "created_at", "updated_at")
SELECT DISTINCT ON (m."run_id") 'ep_' || substr(m."run_id", 5), m."tenant_id", 'run', m."url", m."headers", m."created_at", m."created_at"
FROM "messages" m ORDER BY m."run_id", m."created_at"
ON CONFLICT ("id") DO NOTHING;--> statement-breakpoint
UPDATE "runs" SET "endpoint_id" = 'ep_' || substr("id", 5) WHERE "webhook" IS NOT NULL;--> statement-breakpoint
INSERT INTO "deliveries" ("message_id", "endpoint_id", "tenant_id", "status", "attempt_count", "steps", "next_attempt_at", "created_at", "delivered_at")
SELECT m."id", 'ep_' || substr(m."run_id", 5), m."tenant_id", m."status", m."attempt_count",
  (SELECT count(*) FROM "attempts" a WHERE a."message_id" = m."id" AND a."trigger" <> 'manual')::smallint,
  m."next_attempt_at", m."created_at", m."delivered_at"
FROM "messages" m;--> statement-breakpoint
UPDATE "attempts" a SET "endpoint_id" = 'ep_' || substr(m."run_id", 5), "url" = m."url" FROM "messages" m WHERE m."id" = a."message_id";--> statement-breakpoint
DELETE FROM "attempts" WHERE "endpoint_id" IS NULL;--> statement-breakpoint
ALTER TABLE "attempts" ALTER COLUMN "endpoint_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "attempts" ALTER COLUMN "url" SET NOT NULL;--> statement-breakpoint
-- Room on each page for the new version of a row whose status did not change (a retry planned):
-- such an update can then be HOT, touching no index.
ALTER TABLE "deliveries" SET (fillfactor = 85);--> statement-breakpoint
ALTER TABLE "applications" ADD CONSTRAINT "applications_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "endpoints" ADD CONSTRAINT "endpoints_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "endpoints" ADD CONSTRAINT "endpoints_app_id_applications_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."applications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "endpoints" ADD CONSTRAINT "endpoints_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_types" ADD CONSTRAINT "event_types_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "idempotent_responses" ADD CONSTRAINT "idempotent_responses_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "applications_tenant_idx" ON "applications" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "applications_tenant_uid_idx" ON "applications" USING btree ("tenant_id","uid") WHERE "applications"."uid" is not null;--> statement-breakpoint
CREATE INDEX "deliveries_endpoint_idx" ON "deliveries" USING btree ("endpoint_id","created_at","message_id");--> statement-breakpoint
CREATE INDEX "deliveries_status_idx" ON "deliveries" USING btree ("status","created_at","message_id") WHERE "deliveries"."status" <> 'succeeded';--> statement-breakpoint
CREATE INDEX "deliveries_tenant_status_idx" ON "deliveries" USING btree ("tenant_id","status","created_at","message_id") WHERE "deliveries"."status" <> 'succeeded';--> statement-breakpoint
CREATE INDEX "endpoints_app_idx" ON "endpoints" USING btree ("app_id","id") WHERE "endpoints"."app_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "endpoints_app_uid_idx" ON "endpoints" USING btree ("app_id","uid") WHERE "endpoints"."uid" is not null;--> statement-breakpoint
CREATE INDEX "endpoints_tenant_kind_idx" ON "endpoints" USING btree ("tenant_id","kind");--> statement-breakpoint
CREATE INDEX "idempotent_responses_created_idx" ON "idempotent_responses" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "attempts_endpoint_idx" ON "attempts" USING btree ("endpoint_id","started_at","id");--> statement-breakpoint
CREATE INDEX "messages_app_idx" ON "messages" USING btree ("app_id","created_at","id") WHERE "messages"."app_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "messages_app_event_id_idx" ON "messages" USING btree ("app_id","event_id") WHERE "messages"."app_id" is not null and "messages"."event_id" is not null;--> statement-breakpoint
CREATE INDEX "signing_secrets_endpoint_idx" ON "signing_secrets" USING btree ("endpoint_id","created_at") WHERE "signing_secrets"."endpoint_id" is not null;--> statement-breakpoint
CREATE INDEX "attempts_message_idx" ON "attempts" USING btree ("message_id","endpoint_id","id");--> statement-breakpoint
CREATE INDEX "messages_run_idx" ON "messages" USING btree ("run_id","id") WHERE "messages"."run_id" is not null;--> statement-breakpoint
CREATE INDEX "messages_workflow_idx" ON "messages" USING btree ("workflow_id","created_at","id") WHERE "messages"."workflow_id" is not null;