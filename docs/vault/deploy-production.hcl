path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "sys/policies/acl/finance_report-production-app" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "policy" = ["path \"secret/data/finance_report/production/app\" {\n  capabilities = [\"read\"]\n}\n\npath \"auth/token/lookup-self\" {\n  capabilities = [\"read\"]\n}\n"]
  }
}

path "sys/policies/acl/finance_report-production-backup" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "policy" = ["path \"secret/data/finance_report/production/backup\" {\n  capabilities = [\"read\"]\n}\n\npath \"auth/token/lookup-self\" {\n  capabilities = [\"read\"]\n}\n"]
  }
}

path "sys/policies/acl/finance_report-production-postgres" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "policy" = ["path \"secret/data/finance_report/production/postgres\" {\n  capabilities = [\"read\"]\n}\n\npath \"auth/token/lookup-self\" {\n  capabilities = [\"read\"]\n}\n"]
  }
}

path "sys/policies/acl/finance_report-production-redis" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "policy" = ["path \"secret/data/finance_report/production/redis\" {\n  capabilities = [\"read\"]\n}\n\npath \"auth/token/lookup-self\" {\n  capabilities = [\"read\"]\n}\n"]
  }
}

path "secret/data/finance_report/production/app" {
  capabilities = ["create", "read", "update"]
}

path "secret/data/finance_report/production/backup" {
  capabilities = ["create", "read", "update"]
}

path "secret/data/finance_report/production/postgres" {
  capabilities = ["create", "read", "update"]
}

path "secret/data/finance_report/production/redis" {
  capabilities = ["create", "read", "update"]
}

path "secret/metadata/finance_report/production/app" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/production/backup" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/production/postgres" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/production/redis" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-app" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-production-app", ["finance_report-production-app"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
  }
}

path "auth/approle/role/finance_report-production-backup" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-production-backup", ["finance_report-production-backup"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
  }
}

path "auth/approle/role/finance_report-production-postgres" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-production-postgres", ["finance_report-production-postgres"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
  }
}

path "auth/approle/role/finance_report-production-redis" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-production-redis", ["finance_report-production-redis"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
  }
}

path "auth/approle/role/finance_report-production-app/role-id" {
  capabilities = ["read", "update"]
}

path "auth/approle/role/finance_report-production-backup/role-id" {
  capabilities = ["read", "update"]
}

path "auth/approle/role/finance_report-production-postgres/role-id" {
  capabilities = ["read", "update"]
}

path "auth/approle/role/finance_report-production-redis/role-id" {
  capabilities = ["read", "update"]
}

path "auth/approle/role/finance_report-production-app/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-backup/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-postgres/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-redis/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-app/secret-id" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-backup/secret-id" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-postgres/secret-id" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-redis/secret-id" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-app/secret-id-accessor/destroy" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-backup/secret-id-accessor/destroy" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-postgres/secret-id-accessor/destroy" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-redis/secret-id-accessor/destroy" {
  capabilities = ["update"]
}

path "auth/token/create" {
  capabilities = ["update"]
}

path "sys/capabilities-self" {
  capabilities = ["update"]
}
