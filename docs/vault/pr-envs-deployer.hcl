path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/create" {
  capabilities = ["update"]
}

path "auth/token/revoke-self" {
  capabilities = ["update"]
}

path "secret/data/finance_report/previews/*" {
  capabilities = ["create", "delete", "list", "read", "update"]
}

path "secret/metadata/finance_report/previews/*" {
  capabilities = ["delete", "read", "update"]
}

path "auth/approle/role/finance_report-pr1*" {
  capabilities = ["create", "delete", "list", "read", "update"]
  allowed_parameters = {
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
    "metadata" = []
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-pr2*" {
  capabilities = ["create", "delete", "list", "read", "update"]
  allowed_parameters = {
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
    "metadata" = []
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-pr3*" {
  capabilities = ["create", "delete", "list", "read", "update"]
  allowed_parameters = {
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
    "metadata" = []
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-pr4*" {
  capabilities = ["create", "delete", "list", "read", "update"]
  allowed_parameters = {
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
    "metadata" = []
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-pr5*" {
  capabilities = ["create", "delete", "list", "read", "update"]
  allowed_parameters = {
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
    "metadata" = []
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-pr6*" {
  capabilities = ["create", "delete", "list", "read", "update"]
  allowed_parameters = {
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
    "metadata" = []
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-pr7*" {
  capabilities = ["create", "delete", "list", "read", "update"]
  allowed_parameters = {
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
    "metadata" = []
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-pr8*" {
  capabilities = ["create", "delete", "list", "read", "update"]
  allowed_parameters = {
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
    "metadata" = []
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-pr9*" {
  capabilities = ["create", "delete", "list", "read", "update"]
  allowed_parameters = {
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
    "metadata" = []
    "secret_id_accessor" = []
  }
}
