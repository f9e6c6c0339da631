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
  capabilities = ["create", "read"]
  allowed_parameters = {
    "token_policies" = ["finance_report-production-app", ["finance_report-production-app"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
  }
}

path "auth/approle/role/finance_report-production-backup" {
  capabilities = ["create", "read"]
  allowed_parameters = {
    "token_policies" = ["finance_report-production-backup", ["finance_report-production-backup"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
  }
}

path "auth/approle/role/finance_report-production-postgres" {
  capabilities = ["create", "read"]
  allowed_parameters = {
    "token_policies" = ["finance_report-production-postgres", ["finance_report-production-postgres"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
  }
}

path "auth/approle/role/finance_report-production-redis" {
  capabilities = ["create", "read"]
  allowed_parameters = {
    "token_policies" = ["finance_report-production-redis", ["finance_report-production-redis"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
  }
}

path "auth/approle/role/finance_report-production-app/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-backup/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-postgres/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-redis/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-app/secret-id-accessor/lookup" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-production-backup/secret-id-accessor/lookup" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-production-postgres/secret-id-accessor/lookup" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-production-redis/secret-id-accessor/lookup" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-production-app/secret-id" {
  capabilities = ["list", "update"]
  allowed_parameters = {
    "metadata" = []
  }
}

path "auth/approle/role/finance_report-production-backup/secret-id" {
  capabilities = ["list", "update"]
  allowed_parameters = {
    "metadata" = []
  }
}

path "auth/approle/role/finance_report-production-postgres/secret-id" {
  capabilities = ["list", "update"]
  allowed_parameters = {
    "metadata" = []
  }
}

path "auth/approle/role/finance_report-production-redis/secret-id" {
  capabilities = ["list", "update"]
  allowed_parameters = {
    "metadata" = []
  }
}

path "auth/approle/role/finance_report-production-app/secret-id-accessor/destroy" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-production-backup/secret-id-accessor/destroy" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-production-postgres/secret-id-accessor/destroy" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-production-redis/secret-id-accessor/destroy" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/token/create" {
  capabilities = ["update"]
}

path "sys/capabilities-self" {
  capabilities = ["update"]
}
