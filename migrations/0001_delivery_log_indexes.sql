DROP INDEX "attempts_outcome_idx";--> statement-breakpoint
DROP INDEX "attempts_status_idx";--> statement-breakpoint
DROP INDEX "attempts_started_idx";--> statement-breakpoint
DROP INDEX "messages_tenant_idx";--> statement-breakpoint
DROP INDEX "messages_status_idx";--> statement-breakpoint
DROP INDEX "messages_workflow_idx";--> statement-breakpoint
DROP INDEX "messages_event_type_idx";--> statement-breakpoint
DROP INDEX "messages_created_idx";--> statement-breakpoint
CREATE INDEX "attempts_status_class_idx" ON "attempts" USING btree ((coalesce("response_status" / 100, 0)),"started_at","id");--> statement-breakpoint
CREATE INDEX "attempts_outcome_class_idx" ON "attempts" USING btree ("outcome",(coalesce("response_status" / 100, 0)),"started_at","id");--> statement-breakpoint
CREATE INDEX "messages_tenant_status_idx" ON "messages" USING btree ("tenant_id","status","created_at","id");--> statement-breakpoint
CREATE INDEX "attempts_started_idx" ON "attempts" USING btree ("started_at","id");--> statement-breakpoint
CREATE INDEX "messages_tenant_idx" ON "messages" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE INDEX "messages_status_idx" ON "messages" USING btree ("status","created_at","id");--> statement-breakpoint
CREATE INDEX "messages_workflow_idx" ON "messages" USING btree ("workflow_id","created_at","id");--> statement-breakpoint
CREATE INDEX "messages_event_type_idx" ON "messages" USING btree ("event_type","created_at","id");--> statement-breakpoint
CREATE INDEX "messages_created_idx" ON "messages" USING btree ("created_at","id");