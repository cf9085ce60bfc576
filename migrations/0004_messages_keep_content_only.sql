ALTER TABLE "messages" DROP COLUMN "url";--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "headers";--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "status";--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "attempt_count";--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "next_attempt_at";--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "delivered_at";--> statement-breakpoint
DROP INDEX "endpoints_app_uid_idx";--> statement-breakpoint
ALTER TABLE "endpoints" ADD COLUMN "deleted_at" timestamp with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "endpoints_app_uid_idx" ON "endpoints" USING btree ("app_id","uid") WHERE "endpoints"."uid" is not null and "endpoints"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "messages_app_event_type_idx" ON "messages" USING btree ("app_id","event_type","created_at","id") WHERE "messages"."app_id" is not null;