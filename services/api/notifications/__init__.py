"""Notification channels (CRUD, encrypted secrets, test messages), delivery status, and the
Slack interactivity callback. Delivery itself runs in the remediate workers."""
