-- +goose Up
-- Failed password logins per username, shared by every instance: after
-- too many within a window the username is locked out for a while.
CREATE TABLE login_failures (
    username     TEXT   PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE login_failures;
