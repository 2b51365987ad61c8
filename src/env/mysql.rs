//! The names Aurora MySQL gives the master user and the database, checked as
//! CreateDBCluster checks them
//! (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html>):
//! neither may be a word the engine reserves. The schema checks their shape (a letter, then
//! letters, digits and underscores; 16 and 64 characters at most).

use serde_json::Value;

use super::locate::FieldPath;
use super::Problem;

/// The master user RDS itself signs in as; a cluster cannot have it as its master user.
const RDS_ADMIN: &str = "rdsadmin";

/// The schemas every MySQL server has; a database of that name cannot be created.
const SYSTEM_SCHEMAS: [&str; 4] = ["information_schema", "mysql", "performance_schema", "sys"];

/// MySQL 8.0's reserved words, the ones marked (R) on
/// <https://dev.mysql.com/doc/refman/8.0/en/keywords.html>, in ASCII order. Aurora MySQL 2
/// (MySQL 5.7) reserves fewer; the 8.0 list keeps a name valid across the upgrade.
pub const RESERVED_WORDS: [&str; 262] = [
    "ACCESSIBLE",
    "ADD",
    "ALL",
    "ALTER",
    "ANALYZE",
    "AND",
    "AS",
    "ASC",
    "ASENSITIVE",
    "BEFORE",
    "BETWEEN",
    "BIGINT",
    "BINARY",
    "BLOB",
    "BOTH",
    "BY",
    "CALL",
    "CASCADE",
    "CASE",
    "CHANGE",
    "CHAR",
    "CHARACTER",
    "CHECK",
    "COLLATE",
    "COLUMN",
    "CONDITION",
    "CONSTRAINT",
    "CONTINUE",
    "CONVERT",
    "CREATE",
    "CROSS",
    "CUBE",
    "CUME_DIST",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "CURRENT_USER",
    "CURSOR",
    "DATABASE",
    "DATABASES",
    "DAY_HOUR",
    "DAY_MICROSECOND",
    "DAY_MINUTE",
    "DAY_SECOND",
    "DEC",
    "DECIMAL",
    "DECLARE",
    "DEFAULT",
    "DELAYED",
    "DELETE",
    "DENSE_RANK",
    "DESC",
    "DESCRIBE",
    "DETERMINISTIC",
    "DISTINCT",
    "DISTINCTROW",
    "DIV",
    "DOUBLE",
    "DROP",
    "DUAL",
    "EACH",
    "ELSE",
    "ELSEIF",
    "EMPTY",
    "ENCLOSED",
    "ESCAPED",
    "EXCEPT",
    "EXISTS",
    "EXIT",
    "EXPLAIN",
    "FALSE",
    "FETCH",
    "FIRST_VALUE",
    "FLOAT",
    "FLOAT4",
    "FLOAT8",
    "FOR",
    "FORCE",
    "FOREIGN",
    "FROM",
    "FULLTEXT",
    "FUNCTION",
    "GENERATED",
    "GET",
    "GRANT",
    "GROUP",
    "GROUPING",
    "GROUPS",
    "HAVING",
    "HIGH_PRIORITY",
    "HOUR_MICROSECOND",
    "HOUR_MINUTE",
    "HOUR_SECOND",
    "IF",
    "IGNORE",
    "IN",
    "INDEX",
    "INFILE",
    "INNER",
    "INOUT",
    "INSENSITIVE",
    "INSERT",
    "INT",
    "INT1",
    "INT2",
    "INT3",
    "INT4",
    "INT8",
    "INTEGER",
    "INTERSECT",
    "INTERVAL",
    "INTO",
    "IO_AFTER_GTIDS",
    "IO_BEFORE_GTIDS",
    "IS",
    "ITERATE",
    "JOIN",
    "JSON_TABLE",
    "KEY",
    "KEYS",
    "KILL",
    "LAG",
    "LAST_VALUE",
    "LATERAL",
    "LEAD",
    "LEADING",
    "LEAVE",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LINEAR",
    "LINES",
    "LOAD",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "LOCK",
    "LONG",
    "LONGBLOB",
    "LONGTEXT",
    "LOOP",
    "LOW_PRIORITY",
    "MASTER_BIND",
    "MASTER_SSL_VERIFY_SERVER_CERT",
    "MATCH",
    "MAXVALUE",
    "MEDIUMBLOB",
    "MEDIUMINT",
    "MEDIUMTEXT",
    "MIDDLEINT",
    "MINUTE_MICROSECOND",
    "MINUTE_SECOND",
    "MOD",
    "MODIFIES",
    "NATURAL",
    "NOT",
    "NO_WRITE_TO_BINLOG",
    "NTH_VALUE",
    "NTILE",
    "NULL",
    "NUMERIC",
    "OF",
    "ON",
    "OPTIMIZE",
    "OPTIMIZER_COSTS",
    "OPTION",
    "OPTIONALLY",
    "OR",
    "ORDER",
    "OUT",
    "OUTER",
    "OUTFILE",
    "OVER",
    "PARTITION",
    "PERCENT_RANK",
    "PRECISION",
    "PRIMARY",
    "PROCEDURE",
    "PURGE",
    "RANGE",
    "RANK",
    "READ",
    "READS",
    "READ_WRITE",
    "REAL",
    "RECURSIVE",
    "REFERENCES",
    "REGEXP",
    "RELEASE",
    "RENAME",
    "REPEAT",
    "REPLACE",
    "REQUIRE",
    "RESIGNAL",
    "RESTRICT",
    "RETURN",
    "REVOKE",
    "RIGHT",
    "RLIKE",
    "ROW",
    "ROWS",
    "ROW_NUMBER",
    "SCHEMA",
    "SCHEMAS",
    "SECOND_MICROSECOND",
    "SELECT",
    "SENSITIVE",
    "SEPARATOR",
    "SET",
    "SHOW",
    "SIGNAL",
    "SMALLINT",
    "SPATIAL",
    "SPECIFIC",
    "SQL",
    "SQLEXCEPTION",
    "SQLSTATE",
    "SQLWARNING",
    "SQL_BIG_RESULT",
    "SQL_CALC_FOUND_ROWS",
    "SQL_SMALL_RESULT",
    "SSL",
    "STARTING",
    "STORED",
    "STRAIGHT_JOIN",
    "SYSTEM",
    "TABLE",
    "TERMINATED",
    "THEN",
    "TINYBLOB",
    "TINYINT",
    "TINYTEXT",
    "TO",
    "TRAILING",
    "TRIGGER",
    "TRUE",
    "UNDO",
    "UNION",
    "UNIQUE",
    "UNLOCK",
    "UNSIGNED",
    "UPDATE",
    "USAGE",
    "USE",
    "USING",
    "UTC_DATE",
    "UTC_TIME",
    "UTC_TIMESTAMP",
    "VALUES",
    "VARBINARY",
    "VARCHAR",
    "VARCHARACTER",
    "VARYING",
    "VIRTUAL",
    "WHEN",
    "WHERE",
    "WHILE",
    "WINDOW",
    "WITH",
    "WRITE",
    "XOR",
    "YEAR_MONTH",
    "ZEROFILL",
];

/// Whether MySQL 8.0 reserves `word` (in any case).
pub fn is_reserved(word: &str) -> bool {
    RESERVED_WORDS
        .binary_search(&word.to_ascii_uppercase().as_str())
        .is_ok()
}

pub fn check(value: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    let database = FieldPath::root().key("database");
    let string = |name: &str| {
        value
            .pointer(&format!("/database/{name}"))
            .and_then(Value::as_str)
    };

    if let Some(user) = string("master_username") {
        let path = database.key("master_username");
        let message = if user.eq_ignore_ascii_case(RDS_ADMIN) {
            Some(format!("`{user}` is the user RDS manages the cluster with; Aurora refuses it as the master user name"))
        } else if is_reserved(user) {
            Some(format!("`{user}` is a reserved word in MySQL 8.0; Aurora refuses it as the master user name"))
        } else {
            None
        };
        if let Some(message) = message {
            let mut problem = Problem::at_value(path, message);
            problem.hint = Some("for example admin or dbadmin".into());
            problems.push(problem);
        }
    }

    if let Some(user) = string("app_username") {
        let path = database.key("app_username");
        let master = string("master_username").unwrap_or("admin");
        let message = if user.eq_ignore_ascii_case(master) {
            Some(format!(
                "`{user}` is the master user; the application user needs a name of its own"
            ))
        } else if user.eq_ignore_ascii_case(RDS_ADMIN) {
            Some(format!("`{user}` is the user RDS manages the cluster with"))
        } else if is_reserved(user) {
            Some(format!("`{user}` is a reserved word in MySQL 8.0"))
        } else {
            None
        };
        if let Some(message) = message {
            let mut problem = Problem::at_value(path, message);
            problem.hint = Some("for example app_ingest".into());
            problems.push(problem);
        }
    }

    if let Some(name) = string("name") {
        let path = database.key("name");
        let message = if SYSTEM_SCHEMAS
            .iter()
            .any(|schema| name.eq_ignore_ascii_case(schema))
        {
            Some(format!("`{name}` is one of MySQL's own schemas; the application's tables need a database of their own"))
        } else if is_reserved(name) {
            Some(format!(
                "`{name}` is a reserved word in MySQL 8.0; Aurora refuses it as the database name"
            ))
        } else {
            None
        };
        if let Some(message) = message {
            let mut problem = Problem::at_value(path, message);
            problem.hint = Some("for example reviews_db".into());
            problems.push(problem);
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserved_words_are_sorted_for_binary_search() {
        assert!(RESERVED_WORDS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn reserved_words_in_any_case() {
        for word in ["select", "Order", "USER_RESOURCES_NOT", "rank", "system"] {
            assert_eq!(is_reserved(word), word != "USER_RESOURCES_NOT", "{word}");
        }
        // Keywords that MySQL 8.0 does not reserve.
        for word in ["admin", "user", "password", "role", "reviews_db"] {
            assert!(!is_reserved(word), "{word}");
        }
    }
}
