ALTER TABLE "messages" DROP COLUMN "url";--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "headers";--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "status";--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "attempt_count";--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "next_attempt_at";--> statement-breakpoint
ALTER TABLE "messages" DROP COLUMN "delivered_at";