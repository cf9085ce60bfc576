ALTER TABLE "applications" ADD COLUMN "throttle_tat" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "endpoints" ADD COLUMN "throttle_tat" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "endpoints" ADD COLUMN "ordered" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "endpoints" ADD COLUMN "head_message_id" text COLLATE "C";--> statement-breakpoint
ALTER TABLE "endpoints" ADD COLUMN "retry_schedule" integer[];--> statement-breakpoint
ALTER TABLE "endpoints" ADD COLUMN "failing_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "endpoints" ADD COLUMN "disabled_reason" text;--> statement-breakpoint
CREATE INDEX "deliveries_waiting_idx" ON "deliveries" USING btree ("endpoint_id","created_at","message_id") WHERE "deliveries"."status" = 'pending' and "deliveries"."next_attempt_at" is null;--> statement-breakpoint
CREATE INDEX "endpoints_operational_idx" ON "endpoints" USING btree ("tenant_id") WHERE "endpoints"."kind" = 'operational';