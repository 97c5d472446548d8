-- +goose Up
-- Failed password logins per username, shared by every instance: after
-- too many within a window the username is locked out for a while.
CREATE TABLE login_failures (
    username     TEXT   PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE login_failures;
