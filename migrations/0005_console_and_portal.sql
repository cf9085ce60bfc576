CREATE TABLE "overview_hourly" (
	"hour" timestamp with time zone NOT NULL,
	"dim" text NOT NULL,
	"key" text NOT NULL,
	"succeeded" integer DEFAULT 0 NOT NULL,
	"failed" integer DEFAULT 0 NOT NULL,
	"messages" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "overview_hourly_dim_hour_key_pk" PRIMARY KEY("dim","hour","key")
);
--> statement-breakpoint
CREATE TABLE "overview_latency" (
	"hour" timestamp with time zone NOT NULL,
	"bucket" smallint NOT NULL,
	"attempts" integer NOT NULL,
	CONSTRAINT "overview_latency_hour_bucket_pk" PRIMARY KEY("hour","bucket")
);
--> statement-breakpoint
CREATE TABLE "overview_watermark" (
	"name" text PRIMARY KEY NOT NULL,
	"until" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "portal_links" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text COLLATE "C" NOT NULL,
	"app_id" text,
	"read_only" boolean NOT NULL,
	"session_ms" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "ui_login_failures" (
	"client" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"failures" integer NOT NULL,
	CONSTRAINT "ui_login_failures_client_window_start_pk" PRIMARY KEY("client","window_start")
);
--> statement-breakpoint
CREATE TABLE "ui_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"key_id" text COLLATE "C",
	"tenant_id" text COLLATE "C" NOT NULL,
	"app_id" text,
	"read_only" boolean DEFAULT false NOT NULL,
	"csrf_token" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL,
	"idle_expires_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "portal_links" ADD CONSTRAINT "portal_links_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ui_sessions" ADD CONSTRAINT "ui_sessions_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ui_sessions" ADD CONSTRAINT "ui_sessions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "portal_links_expires_idx" ON "portal_links" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "ui_sessions_expires_idx" ON "ui_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "ui_sessions_key_idx" ON "ui_sessions" USING btree ("key_id");