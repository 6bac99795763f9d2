SELECT DISTINCT
  "t0"."rep_id",
  "t0"."name",
  "t0"."email"
FROM "reps" AS "t0"
;

SELECT DISTINCT
  "t0"."rep_id"
FROM "rep_assignments" AS "t0"
;

SELECT
  "t11"."owner_id",
  COUNT(*) AS "n"
FROM (
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "t0"."owner_id"
        FROM "leads" AS "t0"
      ) AS "t4"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          "t1"."owner_id"
        FROM "deals" AS "t1"
      ) AS "t5"
    ) AS "t8"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "t2"."owner_id"
        FROM "accounts" AS "t2"
      ) AS "t6"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          "t3"."owner_id"
        FROM "activities" AS "t3"
      ) AS "t7"
    ) AS "t9"
  ) AS "t10"
  WHERE
    "t10"."owner_id" IS NOT NULL
) AS "t11"
GROUP BY
  1
;

SELECT
  "t21"."period",
  "t21"."dim__department",
  "t21"."dim__team",
  SUM("t21"."mqls__n") AS "mqls__n",
  SUM("t21"."mql_to_opportunity_rate__num") AS "mql_to_opportunity_rate__num",
  SUM("t21"."mql_to_opportunity_rate__den") AS "mql_to_opportunity_rate__den",
  SUM("t21"."mql_to_sql_rate__num") AS "mql_to_sql_rate__num",
  SUM("t21"."mql_to_sql_rate__den") AS "mql_to_sql_rate__den",
  SUM("t21"."sqls__n") AS "sqls__n",
  SUM("t21"."sql_to_opportunity_rate__num") AS "sql_to_opportunity_rate__num",
  SUM("t21"."sql_to_opportunity_rate__den") AS "sql_to_opportunity_rate__den",
  SUM("t21"."mql_to_sql_days__s") AS "mql_to_sql_days__s",
  SUM("t21"."mql_to_sql_days__n") AS "mql_to_sql_days__n",
  SUM("t21"."mql_to_sql_days__q") AS "mql_to_sql_days__q"
FROM (
  SELECT
    "t20"."__day",
    "t20"."dim__department",
    "t20"."dim__team",
    "t20"."mqls__n",
    "t20"."mql_to_opportunity_rate__num",
    "t20"."mql_to_opportunity_rate__den",
    "t20"."mql_to_sql_rate__num",
    "t20"."mql_to_sql_rate__den",
    "t20"."sqls__n",
    "t20"."sql_to_opportunity_rate__num",
    "t20"."sql_to_opportunity_rate__den",
    "t20"."mql_to_sql_days__s",
    "t20"."mql_to_sql_days__n",
    "t20"."mql_to_sql_days__q",
    CASE
      WHEN (
        "t20"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
      )
      AND (
        "t20"."__day" <= DATE_FROM_PARTS(2025, 2, 28)
      )
      THEN 0
      WHEN (
        "t20"."__day" >= DATE_FROM_PARTS(2026, 1, 1)
      )
      AND (
        "t20"."__day" <= DATE_FROM_PARTS(2026, 1, 31)
      )
      THEN 1
      WHEN (
        "t20"."__day" >= DATE_FROM_PARTS(2026, 2, 1)
      )
      AND (
        "t20"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
      )
      THEN 2
      ELSE CAST(NULL AS BIGINT)
    END AS "period"
  FROM (
    SELECT
      "t19"."__day",
      "t19"."dim__department",
      "t19"."dim__team",
      COUNT_IF("t19"."__k" = 0) AS "mqls__n",
      COUNT_IF(
        (
          "t19"."__k" = 0
        )
        AND (
          (
            "t19"."__first2" IS NOT NULL
          )
          AND (
            "t19"."__first2" >= "t19"."__pat"
          )
          AND (
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first2")) <= DATE_FROM_PARTS(2026, 3, 20)
          )
          AND (
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first2")) <= DATEADD(DAY, '90', "t19"."__day")
          )
        )
      ) AS "mql_to_opportunity_rate__num",
      COUNT_IF("t19"."__k" = 0) AS "mql_to_opportunity_rate__den",
      COUNT_IF(
        (
          "t19"."__k" = 0
        )
        AND (
          (
            "t19"."__first1" IS NOT NULL
          )
          AND (
            "t19"."__first1" >= "t19"."__pat"
          )
          AND (
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first1")) <= DATE_FROM_PARTS(2026, 3, 20)
          )
          AND (
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first1")) <= DATEADD(DAY, '60', "t19"."__day")
          )
        )
      ) AS "mql_to_sql_rate__num",
      COUNT_IF("t19"."__k" = 0) AS "mql_to_sql_rate__den",
      COUNT_IF("t19"."__k" = 1) AS "sqls__n",
      COUNT_IF(
        (
          "t19"."__k" = 1
        )
        AND (
          (
            "t19"."__first2" IS NOT NULL
          )
          AND (
            "t19"."__first2" >= "t19"."__pat"
          )
          AND (
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first2")) <= DATE_FROM_PARTS(2026, 3, 20)
          )
          AND (
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first2")) <= DATEADD(DAY, '60', "t19"."__day")
          )
        )
      ) AS "sql_to_opportunity_rate__num",
      COUNT_IF("t19"."__k" = 1) AS "sql_to_opportunity_rate__den",
      SUM(
        IFF(
          (
            "t19"."__k" = 1
          )
          AND (
            (
              "t19"."__first0" IS NOT NULL
            )
            AND (
              "t19"."__first1" IS NOT NULL
            )
            AND (
              TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first1")) <= DATE_FROM_PARTS(2026, 3, 20)
            )
          )
          AND (
            CAST(DATEDIFF(
              DAY,
              TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first0")),
              TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first1"))
            ) AS DOUBLE) >= 0
          ),
          CAST(DATEDIFF(
            DAY,
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first0")),
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first1"))
          ) AS DOUBLE),
          NULL
        )
      ) AS "mql_to_sql_days__s",
      COUNT_IF(
        (
          "t19"."__k" = 1
        )
        AND (
          (
            "t19"."__first0" IS NOT NULL
          )
          AND (
            "t19"."__first1" IS NOT NULL
          )
          AND (
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first1")) <= DATE_FROM_PARTS(2026, 3, 20)
          )
        )
        AND (
          CAST(DATEDIFF(
            DAY,
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first0")),
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first1"))
          ) AS DOUBLE) >= 0
        )
      ) AS "mql_to_sql_days__n",
      COUNT_IF(
        (
          "t19"."__k" = 1
        )
        AND (
          (
            "t19"."__first0" IS NOT NULL
          )
          AND (
            "t19"."__first1" IS NOT NULL
          )
          AND (
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first1")) <= DATE_FROM_PARTS(2026, 3, 20)
          )
        )
        AND (
          CAST(DATEDIFF(
            DAY,
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first0")),
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t19"."__first1"))
          ) AS DOUBLE) < 0
        )
      ) AS "mql_to_sql_days__q"
    FROM (
      SELECT
        "t18"."lead_id",
        "t18"."created_at",
        "t18"."owner_id",
        "t18"."team",
        "t18"."account_id",
        "t18"."__id",
        "t18"."__first0",
        "t18"."__first1",
        "t18"."__first2",
        "t18"."__k",
        "t18"."__pat",
        "t18"."__day",
        "t18"."__owner",
        "t18"."__rep",
        "t18"."__from",
        "t18"."__to",
        "t18"."__department",
        "t18"."__team",
        "t18"."__department" AS "dim__department",
        "t18"."__team" AS "dim__team"
      FROM (
        SELECT
          "t17"."lead_id",
          "t17"."created_at",
          "t17"."owner_id",
          "t17"."team",
          "t17"."account_id",
          "t17"."__id",
          "t17"."__first0",
          "t17"."__first1",
          "t17"."__first2",
          "t17"."__k",
          "t17"."__pat",
          "t17"."__day",
          "t17"."__owner",
          "t10"."__rep",
          "t10"."__from",
          "t10"."__to",
          "t10"."__department",
          "t10"."__team"
        FROM (
          SELECT
            "t15"."lead_id",
            "t15"."created_at",
            "t15"."owner_id",
            "t15"."team",
            "t15"."account_id",
            "t15"."__id",
            "t15"."__first0",
            "t15"."__first1",
            "t15"."__first2",
            "t15"."__k",
            "t15"."__pat",
            "t15"."__day",
            "t15"."owner_id" AS "__owner"
          FROM (
            SELECT
              "t14"."lead_id",
              "t14"."created_at",
              "t14"."owner_id",
              "t14"."team",
              "t14"."account_id",
              "t14"."__id",
              "t14"."__first0",
              "t14"."__first1",
              "t14"."__first2",
              "t14"."__k",
              "t14"."__pat",
              TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t14"."__pat")) AS "__day"
            FROM (
              SELECT
                "t5"."lead_id",
                "t5"."created_at",
                "t5"."owner_id",
                "t5"."team",
                "t5"."account_id",
                "t13"."__id",
                "t13"."__first0",
                "t13"."__first1",
                "t13"."__first2",
                "t13"."__k",
                "t13"."__pat"
              FROM (
                SELECT
                  "t1"."lead_id",
                  "t1"."created_at",
                  "t1"."owner_id",
                  "t1"."team",
                  "t1"."account_id"
                FROM "leads" AS "t1"
              ) AS "t5"
              INNER JOIN (
                SELECT
                  *
                FROM (
                  SELECT
                    "t9"."__id",
                    "t9"."__first0",
                    "t9"."__first1",
                    "t9"."__first2",
                    "t9"."__k",
                    CASE
                      WHEN "t9"."__k" = 0
                      THEN "t9"."__first0"
                      WHEN "t9"."__k" = 1
                      THEN "t9"."__first1"
                      ELSE NULL
                    END AS "__pat"
                  FROM (
                    SELECT
                      "t7"."__id",
                      "t7"."__first0",
                      "t7"."__first1",
                      "t7"."__first2",
                      CAST(NULLIF(IFF(_u.pos = _u_2.pos_2, _u_2."__k", NULL), '') AS TINYINT) AS "__k"
                    FROM (
                      SELECT
                        "t6"."lead_id" AS "__id",
                        MIN(IFF("t6"."stage" = 'mql', "t6"."entered_at", NULL)) AS "__first0",
                        MIN(IFF("t6"."stage" = 'sql', "t6"."entered_at", NULL)) AS "__first1",
                        MIN(IFF("t6"."stage" = 'opportunity', "t6"."entered_at", NULL)) AS "__first2"
                      FROM (
                        SELECT
                          *
                        FROM "lead_stage_history" AS "t2"
                        WHERE
                          "t2"."stage" IN ('mql', 'sql', 'opportunity')
                      ) AS "t6"
                      GROUP BY
                        1
                    ) AS "t7"
                    CROSS JOIN TABLE(FLATTEN(INPUT => ARRAY_GENERATE_RANGE(
                      0,
                      (
                        GREATEST(
                          ARRAY_SIZE(
                            SPLIT(
                              ARRAY_TO_STRING(NULLIF([0, 1], []), 'separator'),
                              'separator'
                            )
                          )
                        ) - 1
                      ) + 1
                    ))) AS _u(seq, key, path, index, pos, this)
                    CROSS JOIN TABLE(FLATTEN(INPUT => SPLIT(
                      ARRAY_TO_STRING(NULLIF([0, 1], []), 'separator'),
                      'separator'
                    ))) AS _u_2(seq, key, path, pos_2, "__k", this)
                    WHERE
                      _u.pos = _u_2.pos_2
                      OR (
                        _u.pos > (
                          ARRAY_SIZE(
                            SPLIT(
                              ARRAY_TO_STRING(NULLIF([0, 1], []), 'separator'),
                              'separator'
                            )
                          ) - 1
                        )
                        AND _u_2.pos_2 = (
                          ARRAY_SIZE(
                            SPLIT(
                              ARRAY_TO_STRING(NULLIF([0, 1], []), 'separator'),
                              'separator'
                            )
                          ) - 1
                        )
                      )
                  ) AS "t9"
                ) AS "t11"
                WHERE
                  "t11"."__pat" IS NOT NULL
              ) AS "t13"
                ON "t5"."lead_id" = "t13"."__id"
            ) AS "t14"
          ) AS "t15"
          WHERE
            "t15"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
            AND "t15"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
        ) AS "t17"
        LEFT OUTER JOIN (
          SELECT
            "t3"."rep_id" AS "__rep",
            "t3"."valid_from" AS "__from",
            LEAST(
              COALESCE("t3"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
              COALESCE(
                DATEADD(
                  DAY,
                  -'1',
                  LEAD("t3"."valid_from") OVER (PARTITION BY "t3"."rep_id" ORDER BY "t3"."valid_from" ASC)
                ),
                DATE_FROM_PARTS(9999, 12, 31)
              )
            ) AS "__to",
            "t3"."department" AS "__department",
            "t3"."team" AS "__team"
          FROM (
            SELECT
              "t0"."rep_id",
              "t0"."valid_from",
              "t0"."valid_to",
              "t0"."department",
              "t0"."team"
            FROM "rep_assignments" AS "t0"
          ) AS "t3"
        ) AS "t10"
          ON "t17"."__owner" = "t10"."__rep"
          AND "t10"."__from" <= "t17"."__day"
          AND "t10"."__to" >= "t17"."__day"
      ) AS "t18"
    ) AS "t19"
    GROUP BY
      1,
      2,
      3
  ) AS "t20"
) AS "t21"
GROUP BY
  1,
  2,
  3
;

SELECT
  "t10"."period",
  "t10"."dim__department",
  "t10"."dim__team",
  SUM("t10"."revenue__s") AS "revenue__s",
  SUM("t10"."revenue__n") AS "revenue__n",
  SUM("t10"."revenue__q") AS "revenue__q",
  SUM("t10"."won_deals__n") AS "won_deals__n",
  SUM("t10"."avg_deal_size__s") AS "avg_deal_size__s",
  SUM("t10"."avg_deal_size__n") AS "avg_deal_size__n",
  SUM("t10"."avg_deal_size__q") AS "avg_deal_size__q"
FROM (
  SELECT
    "t9"."__day",
    "t9"."dim__department",
    "t9"."dim__team",
    "t9"."revenue__s",
    "t9"."revenue__n",
    "t9"."revenue__q",
    "t9"."won_deals__n",
    "t9"."avg_deal_size__s",
    "t9"."avg_deal_size__n",
    "t9"."avg_deal_size__q",
    CASE
      WHEN (
        "t9"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
      )
      AND (
        "t9"."__day" <= DATE_FROM_PARTS(2025, 2, 28)
      )
      THEN 0
      WHEN (
        "t9"."__day" >= DATE_FROM_PARTS(2026, 1, 1)
      )
      AND (
        "t9"."__day" <= DATE_FROM_PARTS(2026, 1, 31)
      )
      THEN 1
      WHEN (
        "t9"."__day" >= DATE_FROM_PARTS(2026, 2, 1)
      )
      AND (
        "t9"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
      )
      THEN 2
      ELSE CAST(NULL AS BIGINT)
    END AS "period"
  FROM (
    SELECT
      "t8"."__day",
      "t8"."dim__department",
      "t8"."dim__team",
      SUM("t8"."amount") AS "revenue__s",
      COUNT("t8"."amount") AS "revenue__n",
      COUNT_IF("t8"."amount" IS NULL) AS "revenue__q",
      COUNT(*) AS "won_deals__n",
      SUM("t8"."amount") AS "avg_deal_size__s",
      COUNT("t8"."amount") AS "avg_deal_size__n",
      COUNT_IF("t8"."amount" IS NULL) AS "avg_deal_size__q"
    FROM (
      SELECT
        "t7"."deal_id",
        "t7"."account_id",
        "t7"."lead_id",
        "t7"."owner_id",
        "t7"."team",
        "t7"."created_at",
        "t7"."close_date",
        "t7"."amount",
        "t7"."status",
        "t7"."__day",
        "t7"."__owner",
        "t7"."__rep",
        "t7"."__from",
        "t7"."__to",
        "t7"."__department",
        "t7"."__team",
        "t7"."__department" AS "dim__department",
        "t7"."__team" AS "dim__team"
      FROM (
        SELECT
          "t4"."deal_id",
          "t4"."account_id",
          "t4"."lead_id",
          "t4"."owner_id",
          "t4"."team",
          "t4"."created_at",
          "t4"."close_date",
          "t4"."amount",
          "t4"."status",
          "t4"."__day",
          "t4"."__owner",
          "t6"."__rep",
          "t6"."__from",
          "t6"."__to",
          "t6"."__department",
          "t6"."__team"
        FROM (
          SELECT
            "t0"."deal_id",
            "t0"."account_id",
            "t0"."lead_id",
            "t0"."owner_id",
            "t0"."team",
            "t0"."created_at",
            "t0"."close_date",
            "t0"."amount",
            "t0"."status",
            "t0"."close_date" AS "__day",
            "t0"."owner_id" AS "__owner"
          FROM "deals" AS "t0"
          WHERE
            "t0"."status" = 'won'
            AND "t0"."close_date" >= DATE_FROM_PARTS(2025, 2, 1)
            AND "t0"."close_date" <= DATE_FROM_PARTS(2026, 2, 28)
        ) AS "t4"
        LEFT OUTER JOIN (
          SELECT
            "t2"."rep_id" AS "__rep",
            "t2"."valid_from" AS "__from",
            LEAST(
              COALESCE("t2"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
              COALESCE(
                DATEADD(
                  DAY,
                  -'1',
                  LEAD("t2"."valid_from") OVER (PARTITION BY "t2"."rep_id" ORDER BY "t2"."valid_from" ASC)
                ),
                DATE_FROM_PARTS(9999, 12, 31)
              )
            ) AS "__to",
            "t2"."department" AS "__department",
            "t2"."team" AS "__team"
          FROM (
            SELECT
              "t1"."rep_id",
              "t1"."valid_from",
              "t1"."valid_to",
              "t1"."department",
              "t1"."team"
            FROM "rep_assignments" AS "t1"
          ) AS "t2"
        ) AS "t6"
          ON "t4"."__owner" = "t6"."__rep"
          AND "t6"."__from" <= "t4"."__day"
          AND "t6"."__to" >= "t4"."__day"
      ) AS "t7"
    ) AS "t8"
    GROUP BY
      1,
      2,
      3
  ) AS "t9"
) AS "t10"
GROUP BY
  1,
  2,
  3
;

SELECT
  "t22"."period",
  "t22"."dim__department",
  "t22"."dim__team",
  SUM("t22"."retained_arr__s") AS "retained_arr__s",
  SUM("t22"."retained_arr__n") AS "retained_arr__n",
  SUM("t22"."retained_arr__q") AS "retained_arr__q",
  SUM("t22"."expansion_arr__s") AS "expansion_arr__s",
  SUM("t22"."expansion_arr__n") AS "expansion_arr__n",
  SUM("t22"."expansion_arr__q") AS "expansion_arr__q",
  SUM("t22"."due_arr__s") AS "due_arr__s",
  SUM("t22"."due_arr__n") AS "due_arr__n",
  SUM("t22"."due_arr__q") AS "due_arr__q",
  SUM("t22"."retained_mrr__s") AS "retained_mrr__s",
  SUM("t22"."retained_mrr__n") AS "retained_mrr__n",
  SUM("t22"."retained_mrr__q") AS "retained_mrr__q",
  SUM("t22"."due_mrr__s") AS "due_mrr__s",
  SUM("t22"."due_mrr__n") AS "due_mrr__n",
  SUM("t22"."due_mrr__q") AS "due_mrr__q",
  SUM("t22"."renewed_mrr__s") AS "renewed_mrr__s",
  SUM("t22"."renewed_mrr__n") AS "renewed_mrr__n",
  SUM("t22"."renewed_mrr__q") AS "renewed_mrr__q"
FROM (
  SELECT
    "t21"."__day",
    "t21"."dim__department",
    "t21"."dim__team",
    "t21"."retained_arr__s",
    "t21"."retained_arr__n",
    "t21"."retained_arr__q",
    "t21"."expansion_arr__s",
    "t21"."expansion_arr__n",
    "t21"."expansion_arr__q",
    "t21"."due_arr__s",
    "t21"."due_arr__n",
    "t21"."due_arr__q",
    "t21"."retained_mrr__s",
    "t21"."retained_mrr__n",
    "t21"."retained_mrr__q",
    "t21"."due_mrr__s",
    "t21"."due_mrr__n",
    "t21"."due_mrr__q",
    "t21"."renewed_mrr__s",
    "t21"."renewed_mrr__n",
    "t21"."renewed_mrr__q",
    CASE
      WHEN (
        "t21"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
      )
      AND (
        "t21"."__day" <= DATE_FROM_PARTS(2025, 2, 28)
      )
      THEN 0
      WHEN (
        "t21"."__day" >= DATE_FROM_PARTS(2026, 1, 1)
      )
      AND (
        "t21"."__day" <= DATE_FROM_PARTS(2026, 1, 31)
      )
      THEN 1
      WHEN (
        "t21"."__day" >= DATE_FROM_PARTS(2026, 2, 1)
      )
      AND (
        "t21"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
      )
      THEN 2
      ELSE CAST(NULL AS BIGINT)
    END AS "period"
  FROM (
    SELECT
      "t20"."__day",
      "t20"."dim__department",
      "t20"."dim__team",
      SUM("t20"."arr_retained") AS "retained_arr__s",
      COUNT("t20"."arr_retained") AS "retained_arr__n",
      COUNT_IF("t20"."arr_retained" IS NULL) AS "retained_arr__q",
      SUM("t20"."arr_expansion") AS "expansion_arr__s",
      COUNT("t20"."arr_expansion") AS "expansion_arr__n",
      COUNT_IF("t20"."arr_expansion" IS NULL) AS "expansion_arr__q",
      SUM("t20"."arr") AS "due_arr__s",
      COUNT("t20"."arr") AS "due_arr__n",
      COUNT_IF("t20"."arr" IS NULL) AS "due_arr__q",
      SUM("t20"."mrr_retained") AS "retained_mrr__s",
      COUNT("t20"."mrr_retained") AS "retained_mrr__n",
      COUNT_IF("t20"."mrr_retained" IS NULL) AS "retained_mrr__q",
      SUM("t20"."mrr") AS "due_mrr__s",
      COUNT("t20"."mrr") AS "due_mrr__n",
      COUNT_IF("t20"."mrr" IS NULL) AS "due_mrr__q",
      SUM("t20"."mrr_after") AS "renewed_mrr__s",
      COUNT("t20"."mrr_after") AS "renewed_mrr__n",
      COUNT_IF("t20"."mrr_after" IS NULL) AS "renewed_mrr__q"
    FROM (
      SELECT
        "t19"."contract_id",
        "t19"."account_id",
        "t19"."end_date",
        "t19"."mrr",
        "t19"."arr",
        "t19"."mrr_after",
        "t19"."mrr_retained",
        "t19"."arr_retained",
        "t19"."arr_expansion",
        "t19"."__day",
        "t19"."__owner",
        "t19"."__rep",
        "t19"."__from",
        "t19"."__to",
        "t19"."__department",
        "t19"."__team",
        "t19"."__department" AS "dim__department",
        "t19"."__team" AS "dim__team"
      FROM (
        SELECT
          "t18"."contract_id",
          "t18"."account_id",
          "t18"."end_date",
          "t18"."mrr",
          "t18"."arr",
          "t18"."mrr_after",
          "t18"."mrr_retained",
          "t18"."arr_retained",
          "t18"."arr_expansion",
          "t18"."__day",
          "t18"."__owner",
          "t12"."__rep",
          "t12"."__from",
          "t12"."__to",
          "t12"."__department",
          "t12"."__team"
        FROM (
          SELECT
            "t16".*
            EXCLUDE ("__acc")
          FROM (
            SELECT
              "t15"."contract_id",
              "t15"."account_id",
              "t15"."end_date",
              "t15"."mrr",
              "t15"."arr",
              "t15"."mrr_after",
              "t15"."mrr_retained",
              "t15"."arr_retained",
              "t15"."arr_expansion",
              "t15"."__day",
              "t5"."__acc",
              "t5"."__owner"
            FROM (
              SELECT
                "t13"."contract_id",
                "t13"."account_id",
                "t13"."end_date",
                "t13"."mrr",
                "t13"."arr",
                "t13"."mrr_after",
                LEAST("t13"."mrr_after", COALESCE("t13"."mrr", 0.0)) AS "mrr_retained",
                LEAST("t13"."mrr_after", COALESCE("t13"."mrr", 0.0)) * 12.0 AS "arr_retained",
                (
                  "t13"."mrr_after" - LEAST("t13"."mrr_after", COALESCE("t13"."mrr", 0.0))
                ) * 12.0 AS "arr_expansion",
                "t13"."end_date" AS "__day"
              FROM (
                SELECT
                  "t8"."contract_id",
                  "t8"."account_id",
                  "t8"."product",
                  "t8"."start_date",
                  "t8"."end_date",
                  "t8"."currency",
                  "t8"."status",
                  "t8"."mrr",
                  "t8"."arr",
                  IFF("t8"."status" = 'renewed', COALESCE("t10"."mrr_after", 0.0), 0.0) AS "mrr_after"
                FROM (
                  SELECT
                    *
                  FROM "contracts" AS "t2"
                  WHERE
                    "t2"."status" IN ('renewed', 'churned')
                ) AS "t8"
                LEFT OUTER JOIN (
                  SELECT
                    "t7"."renewed_from" AS "prev",
                    SUM("t7"."mrr") AS "mrr_after"
                  FROM (
                    SELECT
                      *
                    FROM "contracts" AS "t2"
                    WHERE
                      "t2"."renewed_from" IS NOT NULL
                  ) AS "t7"
                  GROUP BY
                    1
                ) AS "t10"
                  ON "t8"."contract_id" = "t10"."prev"
              ) AS "t13"
              WHERE
                "t13"."end_date" >= DATE_FROM_PARTS(2025, 2, 1)
                AND "t13"."end_date" <= DATE_FROM_PARTS(2026, 2, 28)
            ) AS "t15"
            LEFT OUTER JOIN (
              SELECT
                "t1"."account_id" AS "__acc",
                "t1"."owner_id" AS "__owner"
              FROM "accounts" AS "t1"
            ) AS "t5"
              ON "t15"."account_id" = "t5"."__acc"
          ) AS "t16"
        ) AS "t18"
        LEFT OUTER JOIN (
          SELECT
            "t3"."rep_id" AS "__rep",
            "t3"."valid_from" AS "__from",
            LEAST(
              COALESCE("t3"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
              COALESCE(
                DATEADD(
                  DAY,
                  -'1',
                  LEAD("t3"."valid_from") OVER (PARTITION BY "t3"."rep_id" ORDER BY "t3"."valid_from" ASC)
                ),
                DATE_FROM_PARTS(9999, 12, 31)
              )
            ) AS "__to",
            "t3"."department" AS "__department",
            "t3"."team" AS "__team"
          FROM (
            SELECT
              "t0"."rep_id",
              "t0"."valid_from",
              "t0"."valid_to",
              "t0"."department",
              "t0"."team"
            FROM "rep_assignments" AS "t0"
          ) AS "t3"
        ) AS "t12"
          ON "t18"."__owner" = "t12"."__rep"
          AND "t12"."__from" <= "t18"."__day"
          AND "t12"."__to" >= "t18"."__day"
      ) AS "t19"
    ) AS "t20"
    GROUP BY
      1,
      2,
      3
  ) AS "t21"
) AS "t22"
GROUP BY
  1,
  2,
  3
;

SELECT
  "t11"."period",
  "t11"."dim__department",
  "t11"."dim__team",
  COUNT(*) AS "leads__n"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t9"."lead_id",
      "t9"."created_at",
      "t9"."owner_id",
      "t9"."team",
      "t9"."account_id",
      "t9"."__day",
      "t9"."__owner",
      "t9"."__rep",
      "t9"."__from",
      "t9"."__to",
      "t9"."__department",
      "t9"."__team",
      "t9"."__department" AS "dim__department",
      "t9"."__team" AS "dim__team",
      CASE
        WHEN (
          "t9"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
        )
        AND (
          "t9"."__day" <= DATE_FROM_PARTS(2025, 2, 28)
        )
        THEN 0
        WHEN (
          "t9"."__day" >= DATE_FROM_PARTS(2026, 1, 1)
        )
        AND (
          "t9"."__day" <= DATE_FROM_PARTS(2026, 1, 31)
        )
        THEN 1
        WHEN (
          "t9"."__day" >= DATE_FROM_PARTS(2026, 2, 1)
        )
        AND (
          "t9"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
        )
        THEN 2
        ELSE CAST(NULL AS BIGINT)
      END AS "period"
    FROM (
      SELECT
        "t7"."lead_id",
        "t7"."created_at",
        "t7"."owner_id",
        "t7"."team",
        "t7"."account_id",
        "t7"."__day",
        "t7"."__owner",
        "t8"."__rep",
        "t8"."__from",
        "t8"."__to",
        "t8"."__department",
        "t8"."__team"
      FROM (
        SELECT
          "t4"."lead_id",
          "t4"."created_at",
          "t4"."owner_id",
          "t4"."team",
          "t4"."account_id",
          "t4"."__day",
          "t4"."owner_id" AS "__owner"
        FROM (
          SELECT
            "t2"."lead_id",
            "t2"."created_at",
            "t2"."owner_id",
            "t2"."team",
            "t2"."account_id",
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t2"."created_at")) AS "__day"
          FROM (
            SELECT
              "t0"."lead_id",
              "t0"."created_at",
              "t0"."owner_id",
              "t0"."team",
              "t0"."account_id"
            FROM "leads" AS "t0"
          ) AS "t2"
        ) AS "t4"
        WHERE
          "t4"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
          AND "t4"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
      ) AS "t7"
      LEFT OUTER JOIN (
        SELECT
          "t3"."rep_id" AS "__rep",
          "t3"."valid_from" AS "__from",
          LEAST(
            COALESCE("t3"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
            COALESCE(
              DATEADD(
                DAY,
                -'1',
                LEAD("t3"."valid_from") OVER (PARTITION BY "t3"."rep_id" ORDER BY "t3"."valid_from" ASC)
              ),
              DATE_FROM_PARTS(9999, 12, 31)
            )
          ) AS "__to",
          "t3"."department" AS "__department",
          "t3"."team" AS "__team"
        FROM (
          SELECT
            "t1"."rep_id",
            "t1"."valid_from",
            "t1"."valid_to",
            "t1"."department",
            "t1"."team"
          FROM "rep_assignments" AS "t1"
        ) AS "t3"
      ) AS "t8"
        ON "t7"."__owner" = "t8"."__rep"
        AND "t8"."__from" <= "t7"."__day"
        AND "t8"."__to" >= "t7"."__day"
    ) AS "t9"
  ) AS "t10"
  WHERE
    "t10"."period" IS NOT NULL
) AS "t11"
GROUP BY
  1,
  2,
  3
;

SELECT
  "t19"."period",
  "t19"."dim__department",
  "t19"."dim__team",
  COUNT(*) AS "opportunities__n"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t17"."deal_id",
      "t17"."account_id",
      "t17"."lead_id",
      "t17"."owner_id",
      "t17"."team",
      "t17"."created_at",
      "t17"."close_date",
      "t17"."status",
      "t17"."__day",
      "t17"."__owner",
      "t17"."__rep",
      "t17"."__from",
      "t17"."__to",
      "t17"."__department",
      "t17"."__team",
      "t17"."__department" AS "dim__department",
      "t17"."__team" AS "dim__team",
      CASE
        WHEN (
          "t17"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
        )
        AND (
          "t17"."__day" <= DATE_FROM_PARTS(2025, 2, 28)
        )
        THEN 0
        WHEN (
          "t17"."__day" >= DATE_FROM_PARTS(2026, 1, 1)
        )
        AND (
          "t17"."__day" <= DATE_FROM_PARTS(2026, 1, 31)
        )
        THEN 1
        WHEN (
          "t17"."__day" >= DATE_FROM_PARTS(2026, 2, 1)
        )
        AND (
          "t17"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
        )
        THEN 2
        ELSE CAST(NULL AS BIGINT)
      END AS "period"
    FROM (
      SELECT
        "t16"."deal_id",
        "t16"."account_id",
        "t16"."lead_id",
        "t16"."owner_id",
        "t16"."team",
        "t16"."created_at",
        "t16"."close_date",
        "t16"."status",
        "t16"."__day",
        "t16"."__owner",
        "t10"."__rep",
        "t10"."__from",
        "t10"."__to",
        "t10"."__department",
        "t10"."__team"
      FROM (
        SELECT
          "t14".*
          EXCLUDE ("__credit")
        FROM (
          SELECT
            "t13"."deal_id",
            "t13"."account_id",
            "t13"."lead_id",
            "t13"."owner_id",
            "t13"."team",
            "t13"."created_at",
            "t13"."close_date",
            "t13"."status",
            "t13"."__day",
            "t13"."__credit",
            COALESCE("t13"."__credit", "t13"."owner_id") AS "__owner"
          FROM (
            SELECT
              "t12".*
              EXCLUDE ("__credit_lead")
            FROM (
              SELECT
                "t11"."deal_id",
                "t11"."account_id",
                "t11"."lead_id",
                "t11"."owner_id",
                "t11"."team",
                "t11"."created_at",
                "t11"."close_date",
                "t11"."status",
                "t11"."__day",
                "t6"."__credit_lead",
                "t6"."__credit"
              FROM (
                SELECT
                  *
                FROM (
                  SELECT
                    "t5"."deal_id",
                    "t5"."account_id",
                    "t5"."lead_id",
                    "t5"."owner_id",
                    "t5"."team",
                    "t5"."created_at",
                    "t5"."close_date",
                    "t5"."status",
                    TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t5"."created_at")) AS "__day"
                  FROM (
                    SELECT
                      "t2"."deal_id",
                      "t2"."account_id",
                      "t2"."lead_id",
                      "t2"."owner_id",
                      "t2"."team",
                      "t2"."created_at",
                      "t2"."close_date",
                      "t2"."status"
                    FROM "deals" AS "t2"
                  ) AS "t5"
                ) AS "t7"
                WHERE
                  "t7"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
                  AND "t7"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
              ) AS "t11"
              LEFT OUTER JOIN (
                SELECT
                  "t1"."lead_id" AS "__credit_lead",
                  "t1"."owner_id" AS "__credit"
                FROM "leads" AS "t1"
              ) AS "t6"
                ON "t11"."lead_id" = "t6"."__credit_lead"
            ) AS "t12"
          ) AS "t13"
        ) AS "t14"
      ) AS "t16"
      LEFT OUTER JOIN (
        SELECT
          "t3"."rep_id" AS "__rep",
          "t3"."valid_from" AS "__from",
          LEAST(
            COALESCE("t3"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
            COALESCE(
              DATEADD(
                DAY,
                -'1',
                LEAD("t3"."valid_from") OVER (PARTITION BY "t3"."rep_id" ORDER BY "t3"."valid_from" ASC)
              ),
              DATE_FROM_PARTS(9999, 12, 31)
            )
          ) AS "__to",
          "t3"."department" AS "__department",
          "t3"."team" AS "__team"
        FROM (
          SELECT
            "t0"."rep_id",
            "t0"."valid_from",
            "t0"."valid_to",
            "t0"."department",
            "t0"."team"
          FROM "rep_assignments" AS "t0"
        ) AS "t3"
      ) AS "t10"
        ON "t16"."__owner" = "t10"."__rep"
        AND "t10"."__from" <= "t16"."__day"
        AND "t10"."__to" >= "t16"."__day"
    ) AS "t17"
  ) AS "t18"
  WHERE
    "t18"."period" IS NOT NULL
) AS "t19"
GROUP BY
  1,
  2,
  3
;

SELECT
  "t11"."period",
  "t11"."dim__department",
  "t11"."dim__team",
  COUNT_IF("t11"."type" = 'call') AS "calls__n",
  COUNT_IF((
    "t11"."type" = 'call'
  ) AND (
    "t11"."outcome" = 'connected'
  )) AS "connects__n"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t9"."activity_id",
      "t9"."type",
      "t9"."occurred_at",
      "t9"."owner_id",
      "t9"."lead_id",
      "t9"."account_id",
      "t9"."outcome",
      "t9"."__day",
      "t9"."__owner",
      "t9"."__rep",
      "t9"."__from",
      "t9"."__to",
      "t9"."__department",
      "t9"."__team",
      "t9"."__department" AS "dim__department",
      "t9"."__team" AS "dim__team",
      CASE
        WHEN (
          "t9"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
        )
        AND (
          "t9"."__day" <= DATE_FROM_PARTS(2025, 2, 28)
        )
        THEN 0
        WHEN (
          "t9"."__day" >= DATE_FROM_PARTS(2026, 1, 1)
        )
        AND (
          "t9"."__day" <= DATE_FROM_PARTS(2026, 1, 31)
        )
        THEN 1
        WHEN (
          "t9"."__day" >= DATE_FROM_PARTS(2026, 2, 1)
        )
        AND (
          "t9"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
        )
        THEN 2
        ELSE CAST(NULL AS BIGINT)
      END AS "period"
    FROM (
      SELECT
        "t8"."activity_id",
        "t8"."type",
        "t8"."occurred_at",
        "t8"."owner_id",
        "t8"."lead_id",
        "t8"."account_id",
        "t8"."outcome",
        "t8"."__day",
        "t8"."__owner",
        "t6"."__rep",
        "t6"."__from",
        "t6"."__to",
        "t6"."__department",
        "t6"."__team"
      FROM (
        SELECT
          "t4"."activity_id",
          "t4"."type",
          "t4"."occurred_at",
          "t4"."owner_id",
          "t4"."lead_id",
          "t4"."account_id",
          "t4"."outcome",
          "t4"."__day",
          "t4"."owner_id" AS "__owner"
        FROM (
          SELECT
            "t3"."activity_id",
            "t3"."type",
            "t3"."occurred_at",
            "t3"."owner_id",
            "t3"."lead_id",
            "t3"."account_id",
            "t3"."outcome",
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t3"."occurred_at")) AS "__day"
          FROM (
            SELECT
              "t0"."activity_id",
              "t0"."type",
              "t0"."occurred_at",
              "t0"."owner_id",
              "t0"."lead_id",
              "t0"."account_id",
              "t0"."outcome"
            FROM "activities" AS "t0"
            WHERE
              (
                "t0"."type" = 'call'
              )
              OR (
                (
                  "t0"."type" = 'call'
                ) AND (
                  "t0"."outcome" = 'connected'
                )
              )
          ) AS "t3"
        ) AS "t4"
        WHERE
          "t4"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
          AND "t4"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
      ) AS "t8"
      LEFT OUTER JOIN (
        SELECT
          "t2"."rep_id" AS "__rep",
          "t2"."valid_from" AS "__from",
          LEAST(
            COALESCE("t2"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
            COALESCE(
              DATEADD(
                DAY,
                -'1',
                LEAD("t2"."valid_from") OVER (PARTITION BY "t2"."rep_id" ORDER BY "t2"."valid_from" ASC)
              ),
              DATE_FROM_PARTS(9999, 12, 31)
            )
          ) AS "__to",
          "t2"."department" AS "__department",
          "t2"."team" AS "__team"
        FROM (
          SELECT
            "t1"."rep_id",
            "t1"."valid_from",
            "t1"."valid_to",
            "t1"."department",
            "t1"."team"
          FROM "rep_assignments" AS "t1"
        ) AS "t2"
      ) AS "t6"
        ON "t8"."__owner" = "t6"."__rep"
        AND "t6"."__from" <= "t8"."__day"
        AND "t6"."__to" >= "t8"."__day"
    ) AS "t9"
  ) AS "t10"
  WHERE
    "t10"."period" IS NOT NULL
) AS "t11"
GROUP BY
  1,
  2,
  3
;

SELECT
  "t17"."period",
  "t17"."dim__department",
  "t17"."dim__team",
  COUNT_IF("t17"."score" >= 9) AS "promoters__n",
  COUNT_IF("t17"."score" <= 6) AS "detractors__n",
  COUNT(*) AS "nps_responses__n"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t15"."response_id",
      "t15"."responded_at",
      "t15"."account_id",
      "t15"."score",
      "t15"."__day",
      "t15"."__owner",
      "t15"."__rep",
      "t15"."__from",
      "t15"."__to",
      "t15"."__department",
      "t15"."__team",
      "t15"."__department" AS "dim__department",
      "t15"."__team" AS "dim__team",
      CASE
        WHEN (
          "t15"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
        )
        AND (
          "t15"."__day" <= DATE_FROM_PARTS(2025, 2, 28)
        )
        THEN 0
        WHEN (
          "t15"."__day" >= DATE_FROM_PARTS(2026, 1, 1)
        )
        AND (
          "t15"."__day" <= DATE_FROM_PARTS(2026, 1, 31)
        )
        THEN 1
        WHEN (
          "t15"."__day" >= DATE_FROM_PARTS(2026, 2, 1)
        )
        AND (
          "t15"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
        )
        THEN 2
        ELSE CAST(NULL AS BIGINT)
      END AS "period"
    FROM (
      SELECT
        "t14"."response_id",
        "t14"."responded_at",
        "t14"."account_id",
        "t14"."score",
        "t14"."__day",
        "t14"."__owner",
        "t10"."__rep",
        "t10"."__from",
        "t10"."__to",
        "t10"."__department",
        "t10"."__team"
      FROM (
        SELECT
          "t12".*
          EXCLUDE ("__acc")
        FROM (
          SELECT
            "t11"."response_id",
            "t11"."responded_at",
            "t11"."account_id",
            "t11"."score",
            "t11"."__day",
            "t6"."__acc",
            "t6"."__owner"
          FROM (
            SELECT
              *
            FROM (
              SELECT
                "t5"."response_id",
                "t5"."responded_at",
                "t5"."account_id",
                "t5"."score",
                TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t5"."responded_at")) AS "__day"
              FROM (
                SELECT
                  "t2"."response_id",
                  "t2"."responded_at",
                  "t2"."account_id",
                  "t2"."score"
                FROM "nps_responses" AS "t2"
              ) AS "t5"
            ) AS "t7"
            WHERE
              "t7"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
              AND "t7"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
          ) AS "t11"
          LEFT OUTER JOIN (
            SELECT
              "t1"."account_id" AS "__acc",
              "t1"."owner_id" AS "__owner"
            FROM "accounts" AS "t1"
          ) AS "t6"
            ON "t11"."account_id" = "t6"."__acc"
        ) AS "t12"
      ) AS "t14"
      LEFT OUTER JOIN (
        SELECT
          "t3"."rep_id" AS "__rep",
          "t3"."valid_from" AS "__from",
          LEAST(
            COALESCE("t3"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
            COALESCE(
              DATEADD(
                DAY,
                -'1',
                LEAD("t3"."valid_from") OVER (PARTITION BY "t3"."rep_id" ORDER BY "t3"."valid_from" ASC)
              ),
              DATE_FROM_PARTS(9999, 12, 31)
            )
          ) AS "__to",
          "t3"."department" AS "__department",
          "t3"."team" AS "__team"
        FROM (
          SELECT
            "t0"."rep_id",
            "t0"."valid_from",
            "t0"."valid_to",
            "t0"."department",
            "t0"."team"
          FROM "rep_assignments" AS "t0"
        ) AS "t3"
      ) AS "t10"
        ON "t14"."__owner" = "t10"."__rep"
        AND "t10"."__from" <= "t14"."__day"
        AND "t10"."__to" >= "t14"."__day"
    ) AS "t15"
  ) AS "t16"
  WHERE
    "t16"."period" IS NOT NULL
) AS "t17"
GROUP BY
  1,
  2,
  3
;

SELECT
  "t17"."period",
  "t17"."dim__department",
  "t17"."dim__team",
  MEDIAN(IFF("t17"."__dur" >= 0, "t17"."__dur", NULL)) AS "v",
  COUNT_IF("t17"."__dur" >= 0) AS "n",
  COUNT_IF(NOT (
    "t17"."__dur" >= 0
  )) AS "q"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t15"."deal_id",
      "t15"."account_id",
      "t15"."lead_id",
      "t15"."owner_id",
      "t15"."team",
      "t15"."created_at",
      "t15"."close_date",
      "t15"."status",
      "t15"."__id",
      "t15"."__at",
      "t15"."__bid",
      "t15"."__bat",
      "t15"."__dur",
      "t15"."__day",
      "t15"."__owner",
      "t15"."__rep",
      "t15"."__from",
      "t15"."__to",
      "t15"."__department",
      "t15"."__team",
      "t15"."__department" AS "dim__department",
      "t15"."__team" AS "dim__team",
      CASE
        WHEN (
          "t15"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
        )
        AND (
          "t15"."__day" <= DATE_FROM_PARTS(2025, 2, 28)
        )
        THEN 0
        WHEN (
          "t15"."__day" >= DATE_FROM_PARTS(2026, 1, 1)
        )
        AND (
          "t15"."__day" <= DATE_FROM_PARTS(2026, 1, 31)
        )
        THEN 1
        WHEN (
          "t15"."__day" >= DATE_FROM_PARTS(2026, 2, 1)
        )
        AND (
          "t15"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
        )
        THEN 2
        ELSE CAST(NULL AS BIGINT)
      END AS "period"
    FROM (
      SELECT
        "t14"."deal_id",
        "t14"."account_id",
        "t14"."lead_id",
        "t14"."owner_id",
        "t14"."team",
        "t14"."created_at",
        "t14"."close_date",
        "t14"."status",
        "t14"."__id",
        "t14"."__at",
        "t14"."__bid",
        "t14"."__bat",
        "t14"."__dur",
        "t14"."__day",
        "t14"."__owner",
        "t11"."__rep",
        "t11"."__from",
        "t11"."__to",
        "t11"."__department",
        "t11"."__team"
      FROM (
        SELECT
          "t12"."deal_id",
          "t12"."account_id",
          "t12"."lead_id",
          "t12"."owner_id",
          "t12"."team",
          "t12"."created_at",
          "t12"."close_date",
          "t12"."status",
          "t12"."__id",
          "t12"."__at",
          "t12"."__bid",
          "t12"."__bat",
          "t12"."__dur",
          "t12"."__day",
          "t12"."owner_id" AS "__owner"
        FROM (
          SELECT
            "t9"."deal_id",
            "t9"."account_id",
            "t9"."lead_id",
            "t9"."owner_id",
            "t9"."team",
            "t9"."created_at",
            "t9"."close_date",
            "t9"."status",
            "t9"."__id",
            "t9"."__at",
            "t9"."__bid",
            "t9"."__bat",
            CAST(DATEDIFF(DAY, TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t9"."__at")), "t9"."__bat") AS DOUBLE) AS "__dur",
            "t9"."__bat" AS "__day"
          FROM (
            SELECT
              "t5"."deal_id",
              "t5"."account_id",
              "t5"."lead_id",
              "t5"."owner_id",
              "t5"."team",
              "t5"."created_at",
              "t5"."close_date",
              "t5"."status",
              "t7"."__id",
              "t7"."__at",
              "t8"."__bid",
              "t8"."__bat"
            FROM (
              SELECT
                "t1"."deal_id",
                "t1"."account_id",
                "t1"."lead_id",
                "t1"."owner_id",
                "t1"."team",
                "t1"."created_at",
                "t1"."close_date",
                "t1"."status"
              FROM "deals" AS "t1"
            ) AS "t5"
            INNER JOIN (
              SELECT
                "t1"."deal_id" AS "__id",
                "t1"."created_at" AS "__at"
              FROM "deals" AS "t1"
              WHERE
                "t1"."created_at" IS NOT NULL
            ) AS "t7"
              ON "t5"."deal_id" = "t7"."__id"
            INNER JOIN (
              SELECT
                "t1"."deal_id" AS "__bid",
                "t1"."close_date" AS "__bat"
              FROM "deals" AS "t1"
              WHERE
                "t1"."status" = 'won'
                AND "t1"."close_date" IS NOT NULL
                AND "t1"."close_date" <= DATE_FROM_PARTS(2026, 3, 20)
            ) AS "t8"
              ON "t5"."deal_id" = "t8"."__bid"
          ) AS "t9"
        ) AS "t12"
        WHERE
          "t12"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
          AND "t12"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
      ) AS "t14"
      LEFT OUTER JOIN (
        SELECT
          "t2"."rep_id" AS "__rep",
          "t2"."valid_from" AS "__from",
          LEAST(
            COALESCE("t2"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
            COALESCE(
              DATEADD(
                DAY,
                -'1',
                LEAD("t2"."valid_from") OVER (PARTITION BY "t2"."rep_id" ORDER BY "t2"."valid_from" ASC)
              ),
              DATE_FROM_PARTS(9999, 12, 31)
            )
          ) AS "__to",
          "t2"."department" AS "__department",
          "t2"."team" AS "__team"
        FROM (
          SELECT
            "t0"."rep_id",
            "t0"."valid_from",
            "t0"."valid_to",
            "t0"."department",
            "t0"."team"
          FROM "rep_assignments" AS "t0"
        ) AS "t2"
      ) AS "t11"
        ON "t14"."__owner" = "t11"."__rep"
        AND "t11"."__from" <= "t14"."__day"
        AND "t11"."__to" >= "t14"."__day"
    ) AS "t15"
  ) AS "t16"
  WHERE
    "t16"."period" IS NOT NULL
) AS "t17"
GROUP BY
  1,
  2,
  3
;

SELECT
  "t18"."period",
  "t18"."dim__department",
  "t18"."dim__team",
  SUM("t18"."s") AS "s",
  SUM("t18"."n") AS "n",
  SUM("t18"."q") AS "q"
FROM (
  SELECT
    "t17"."__day",
    "t17"."dim__department",
    "t17"."dim__team",
    "t17"."s",
    "t17"."n",
    "t17"."q",
    CASE
      WHEN (
        "t17"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
      )
      AND (
        "t17"."__day" <= DATE_FROM_PARTS(2025, 2, 28)
      )
      THEN 0
      WHEN (
        "t17"."__day" >= DATE_FROM_PARTS(2026, 1, 1)
      )
      AND (
        "t17"."__day" <= DATE_FROM_PARTS(2026, 1, 31)
      )
      THEN 1
      WHEN (
        "t17"."__day" >= DATE_FROM_PARTS(2026, 2, 1)
      )
      AND (
        "t17"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
      )
      THEN 2
      ELSE CAST(NULL AS BIGINT)
    END AS "period"
  FROM (
    SELECT
      "t16"."__day",
      "t16"."dim__department",
      "t16"."dim__team",
      SUM(IFF("t16"."__dur" >= 0, "t16"."__dur", NULL)) AS "s",
      COUNT_IF("t16"."__dur" >= 0) AS "n",
      COUNT_IF(NOT (
        "t16"."__dur" >= 0
      )) AS "q"
    FROM (
      SELECT
        "t15"."deal_id",
        "t15"."account_id",
        "t15"."lead_id",
        "t15"."owner_id",
        "t15"."team",
        "t15"."created_at",
        "t15"."close_date",
        "t15"."status",
        "t15"."__id",
        "t15"."__at",
        "t15"."__bid",
        "t15"."__bat",
        "t15"."__dur",
        "t15"."__day",
        "t15"."__owner",
        "t15"."__rep",
        "t15"."__from",
        "t15"."__to",
        "t15"."__department",
        "t15"."__team",
        "t15"."__department" AS "dim__department",
        "t15"."__team" AS "dim__team"
      FROM (
        SELECT
          "t14"."deal_id",
          "t14"."account_id",
          "t14"."lead_id",
          "t14"."owner_id",
          "t14"."team",
          "t14"."created_at",
          "t14"."close_date",
          "t14"."status",
          "t14"."__id",
          "t14"."__at",
          "t14"."__bid",
          "t14"."__bat",
          "t14"."__dur",
          "t14"."__day",
          "t14"."__owner",
          "t11"."__rep",
          "t11"."__from",
          "t11"."__to",
          "t11"."__department",
          "t11"."__team"
        FROM (
          SELECT
            "t12"."deal_id",
            "t12"."account_id",
            "t12"."lead_id",
            "t12"."owner_id",
            "t12"."team",
            "t12"."created_at",
            "t12"."close_date",
            "t12"."status",
            "t12"."__id",
            "t12"."__at",
            "t12"."__bid",
            "t12"."__bat",
            "t12"."__dur",
            "t12"."__day",
            "t12"."owner_id" AS "__owner"
          FROM (
            SELECT
              "t9"."deal_id",
              "t9"."account_id",
              "t9"."lead_id",
              "t9"."owner_id",
              "t9"."team",
              "t9"."created_at",
              "t9"."close_date",
              "t9"."status",
              "t9"."__id",
              "t9"."__at",
              "t9"."__bid",
              "t9"."__bat",
              CAST(DATEDIFF(DAY, TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t9"."__at")), "t9"."__bat") AS DOUBLE) AS "__dur",
              "t9"."__bat" AS "__day"
            FROM (
              SELECT
                "t5"."deal_id",
                "t5"."account_id",
                "t5"."lead_id",
                "t5"."owner_id",
                "t5"."team",
                "t5"."created_at",
                "t5"."close_date",
                "t5"."status",
                "t7"."__id",
                "t7"."__at",
                "t8"."__bid",
                "t8"."__bat"
              FROM (
                SELECT
                  "t1"."deal_id",
                  "t1"."account_id",
                  "t1"."lead_id",
                  "t1"."owner_id",
                  "t1"."team",
                  "t1"."created_at",
                  "t1"."close_date",
                  "t1"."status"
                FROM "deals" AS "t1"
              ) AS "t5"
              INNER JOIN (
                SELECT
                  "t1"."deal_id" AS "__id",
                  "t1"."created_at" AS "__at"
                FROM "deals" AS "t1"
                WHERE
                  "t1"."created_at" IS NOT NULL
              ) AS "t7"
                ON "t5"."deal_id" = "t7"."__id"
              INNER JOIN (
                SELECT
                  "t1"."deal_id" AS "__bid",
                  "t1"."close_date" AS "__bat"
                FROM "deals" AS "t1"
                WHERE
                  "t1"."status" = 'won'
                  AND "t1"."close_date" IS NOT NULL
                  AND "t1"."close_date" <= DATE_FROM_PARTS(2026, 3, 20)
              ) AS "t8"
                ON "t5"."deal_id" = "t8"."__bid"
            ) AS "t9"
          ) AS "t12"
          WHERE
            "t12"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
            AND "t12"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
        ) AS "t14"
        LEFT OUTER JOIN (
          SELECT
            "t2"."rep_id" AS "__rep",
            "t2"."valid_from" AS "__from",
            LEAST(
              COALESCE("t2"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
              COALESCE(
                DATEADD(
                  DAY,
                  -'1',
                  LEAD("t2"."valid_from") OVER (PARTITION BY "t2"."rep_id" ORDER BY "t2"."valid_from" ASC)
                ),
                DATE_FROM_PARTS(9999, 12, 31)
              )
            ) AS "__to",
            "t2"."department" AS "__department",
            "t2"."team" AS "__team"
          FROM (
            SELECT
              "t0"."rep_id",
              "t0"."valid_from",
              "t0"."valid_to",
              "t0"."department",
              "t0"."team"
            FROM "rep_assignments" AS "t0"
          ) AS "t2"
        ) AS "t11"
          ON "t14"."__owner" = "t11"."__rep"
          AND "t11"."__from" <= "t14"."__day"
          AND "t11"."__to" >= "t14"."__day"
      ) AS "t15"
    ) AS "t16"
    GROUP BY
      1,
      2,
      3
  ) AS "t17"
) AS "t18"
GROUP BY
  1,
  2,
  3
;

WITH "t4" AS (
  SELECT
    "t3"."deal_id",
    "t3"."account_id",
    "t3"."lead_id",
    "t3"."owner_id",
    "t3"."team",
    "t3"."created_at",
    "t3"."close_date",
    "t3"."amount",
    "t3"."status",
    TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t3"."created_at")) AS "__open",
    IFF("t3"."status" IN ('won', 'lost'), "t3"."close_date", NULL) AS "__closed"
  FROM (
    SELECT
      "t1"."deal_id",
      "t1"."account_id",
      "t1"."lead_id",
      "t1"."owner_id",
      "t1"."team",
      "t1"."created_at",
      "t1"."close_date",
      "t1"."amount",
      "t1"."status"
    FROM "deals" AS "t1"
  ) AS "t3"
)
SELECT
  *
FROM (
  SELECT
    2 AS "period",
    "t26"."dim__department",
    "t26"."dim__team",
    "t26"."s",
    "t26"."n",
    "t26"."q"
  FROM (
    SELECT
      "t23"."period",
      "t23"."dim__department",
      "t23"."dim__team",
      SUM("t23"."s") AS "s",
      SUM("t23"."n") AS "n",
      SUM("t23"."q") AS "q"
    FROM (
      SELECT
        "t20"."__day",
        "t20"."dim__department",
        "t20"."dim__team",
        "t20"."s",
        "t20"."n",
        "t20"."q",
        CASE
          WHEN (
            "t20"."__day" >= DATE_FROM_PARTS(2026, 2, 1)
          )
          AND (
            "t20"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
          )
          THEN 0
          ELSE CAST(NULL AS BIGINT)
        END AS "period"
      FROM (
        SELECT
          "t17"."__day",
          "t17"."dim__department",
          "t17"."dim__team",
          SUM("t17"."amount") AS "s",
          COUNT("t17"."amount") AS "n",
          COUNT_IF("t17"."amount" IS NULL) AS "q"
        FROM (
          SELECT
            "t14"."deal_id",
            "t14"."account_id",
            "t14"."lead_id",
            "t14"."owner_id",
            "t14"."team",
            "t14"."created_at",
            "t14"."close_date",
            "t14"."amount",
            "t14"."status",
            "t14"."__open",
            "t14"."__closed",
            "t14"."__day",
            "t14"."__owner",
            "t14"."__rep",
            "t14"."__from",
            "t14"."__to",
            "t14"."__department",
            "t14"."__team",
            "t14"."__department" AS "dim__department",
            "t14"."__team" AS "dim__team"
          FROM (
            SELECT
              "t11"."deal_id",
              "t11"."account_id",
              "t11"."lead_id",
              "t11"."owner_id",
              "t11"."team",
              "t11"."created_at",
              "t11"."close_date",
              "t11"."amount",
              "t11"."status",
              "t11"."__open",
              "t11"."__closed",
              "t11"."__day",
              "t11"."__owner",
              "t7"."__rep",
              "t7"."__from",
              "t7"."__to",
              "t7"."__department",
              "t7"."__team"
            FROM (
              SELECT
                "t5"."deal_id",
                "t5"."account_id",
                "t5"."lead_id",
                "t5"."owner_id",
                "t5"."team",
                "t5"."created_at",
                "t5"."close_date",
                "t5"."amount",
                "t5"."status",
                "t5"."__open",
                "t5"."__closed",
                DATE_FROM_PARTS(2026, 2, 28) AS "__day",
                "t5"."owner_id" AS "__owner"
              FROM "t4" AS "t5"
              WHERE
                "t5"."__open" <= DATE_FROM_PARTS(2026, 2, 28)
                AND (
                  (
                    "t5"."__closed" IS NULL
                  )
                  OR (
                    "t5"."__closed" > DATE_FROM_PARTS(2026, 2, 28)
                  )
                )
            ) AS "t11"
            LEFT OUTER JOIN (
              SELECT
                "t2"."rep_id" AS "__rep",
                "t2"."valid_from" AS "__from",
                LEAST(
                  COALESCE("t2"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
                  COALESCE(
                    DATEADD(
                      DAY,
                      -'1',
                      LEAD("t2"."valid_from") OVER (PARTITION BY "t2"."rep_id" ORDER BY "t2"."valid_from" ASC)
                    ),
                    DATE_FROM_PARTS(9999, 12, 31)
                  )
                ) AS "__to",
                "t2"."department" AS "__department",
                "t2"."team" AS "__team"
              FROM (
                SELECT
                  "t0"."rep_id",
                  "t0"."valid_from",
                  "t0"."valid_to",
                  "t0"."department",
                  "t0"."team"
                FROM "rep_assignments" AS "t0"
              ) AS "t2"
            ) AS "t7"
              ON "t11"."__owner" = "t7"."__rep"
              AND "t7"."__from" <= "t11"."__day"
              AND "t7"."__to" >= "t11"."__day"
          ) AS "t14"
        ) AS "t17"
        GROUP BY
          1,
          2,
          3
      ) AS "t20"
    ) AS "t23"
    GROUP BY
      1,
      2,
      3
  ) AS "t26"
) AS "t29"
UNION ALL
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      0 AS "period",
      "t27"."dim__department",
      "t27"."dim__team",
      "t27"."s",
      "t27"."n",
      "t27"."q"
    FROM (
      SELECT
        "t24"."period",
        "t24"."dim__department",
        "t24"."dim__team",
        SUM("t24"."s") AS "s",
        SUM("t24"."n") AS "n",
        SUM("t24"."q") AS "q"
      FROM (
        SELECT
          "t21"."__day",
          "t21"."dim__department",
          "t21"."dim__team",
          "t21"."s",
          "t21"."n",
          "t21"."q",
          CASE
            WHEN (
              "t21"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
            )
            AND (
              "t21"."__day" <= DATE_FROM_PARTS(2025, 2, 28)
            )
            THEN 0
            ELSE CAST(NULL AS BIGINT)
          END AS "period"
        FROM (
          SELECT
            "t18"."__day",
            "t18"."dim__department",
            "t18"."dim__team",
            SUM("t18"."amount") AS "s",
            COUNT("t18"."amount") AS "n",
            COUNT_IF("t18"."amount" IS NULL) AS "q"
          FROM (
            SELECT
              "t15"."deal_id",
              "t15"."account_id",
              "t15"."lead_id",
              "t15"."owner_id",
              "t15"."team",
              "t15"."created_at",
              "t15"."close_date",
              "t15"."amount",
              "t15"."status",
              "t15"."__open",
              "t15"."__closed",
              "t15"."__day",
              "t15"."__owner",
              "t15"."__rep",
              "t15"."__from",
              "t15"."__to",
              "t15"."__department",
              "t15"."__team",
              "t15"."__department" AS "dim__department",
              "t15"."__team" AS "dim__team"
            FROM (
              SELECT
                "t12"."deal_id",
                "t12"."account_id",
                "t12"."lead_id",
                "t12"."owner_id",
                "t12"."team",
                "t12"."created_at",
                "t12"."close_date",
                "t12"."amount",
                "t12"."status",
                "t12"."__open",
                "t12"."__closed",
                "t12"."__day",
                "t12"."__owner",
                "t7"."__rep",
                "t7"."__from",
                "t7"."__to",
                "t7"."__department",
                "t7"."__team"
              FROM (
                SELECT
                  "t5"."deal_id",
                  "t5"."account_id",
                  "t5"."lead_id",
                  "t5"."owner_id",
                  "t5"."team",
                  "t5"."created_at",
                  "t5"."close_date",
                  "t5"."amount",
                  "t5"."status",
                  "t5"."__open",
                  "t5"."__closed",
                  DATE_FROM_PARTS(2025, 2, 28) AS "__day",
                  "t5"."owner_id" AS "__owner"
                FROM "t4" AS "t5"
                WHERE
                  "t5"."__open" <= DATE_FROM_PARTS(2025, 2, 28)
                  AND (
                    (
                      "t5"."__closed" IS NULL
                    )
                    OR (
                      "t5"."__closed" > DATE_FROM_PARTS(2025, 2, 28)
                    )
                  )
              ) AS "t12"
              LEFT OUTER JOIN (
                SELECT
                  "t2"."rep_id" AS "__rep",
                  "t2"."valid_from" AS "__from",
                  LEAST(
                    COALESCE("t2"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
                    COALESCE(
                      DATEADD(
                        DAY,
                        -'1',
                        LEAD("t2"."valid_from") OVER (PARTITION BY "t2"."rep_id" ORDER BY "t2"."valid_from" ASC)
                      ),
                      DATE_FROM_PARTS(9999, 12, 31)
                    )
                  ) AS "__to",
                  "t2"."department" AS "__department",
                  "t2"."team" AS "__team"
                FROM (
                  SELECT
                    "t0"."rep_id",
                    "t0"."valid_from",
                    "t0"."valid_to",
                    "t0"."department",
                    "t0"."team"
                  FROM "rep_assignments" AS "t0"
                ) AS "t2"
              ) AS "t7"
                ON "t12"."__owner" = "t7"."__rep"
                AND "t7"."__from" <= "t12"."__day"
                AND "t7"."__to" >= "t12"."__day"
            ) AS "t15"
          ) AS "t18"
          GROUP BY
            1,
            2,
            3
        ) AS "t21"
      ) AS "t24"
      GROUP BY
        1,
        2,
        3
    ) AS "t27"
  ) AS "t30"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      1 AS "period",
      "t28"."dim__department",
      "t28"."dim__team",
      "t28"."s",
      "t28"."n",
      "t28"."q"
    FROM (
      SELECT
        "t25"."period",
        "t25"."dim__department",
        "t25"."dim__team",
        SUM("t25"."s") AS "s",
        SUM("t25"."n") AS "n",
        SUM("t25"."q") AS "q"
      FROM (
        SELECT
          "t22"."__day",
          "t22"."dim__department",
          "t22"."dim__team",
          "t22"."s",
          "t22"."n",
          "t22"."q",
          CASE
            WHEN (
              "t22"."__day" >= DATE_FROM_PARTS(2026, 1, 1)
            )
            AND (
              "t22"."__day" <= DATE_FROM_PARTS(2026, 1, 31)
            )
            THEN 0
            ELSE CAST(NULL AS BIGINT)
          END AS "period"
        FROM (
          SELECT
            "t19"."__day",
            "t19"."dim__department",
            "t19"."dim__team",
            SUM("t19"."amount") AS "s",
            COUNT("t19"."amount") AS "n",
            COUNT_IF("t19"."amount" IS NULL) AS "q"
          FROM (
            SELECT
              "t16"."deal_id",
              "t16"."account_id",
              "t16"."lead_id",
              "t16"."owner_id",
              "t16"."team",
              "t16"."created_at",
              "t16"."close_date",
              "t16"."amount",
              "t16"."status",
              "t16"."__open",
              "t16"."__closed",
              "t16"."__day",
              "t16"."__owner",
              "t16"."__rep",
              "t16"."__from",
              "t16"."__to",
              "t16"."__department",
              "t16"."__team",
              "t16"."__department" AS "dim__department",
              "t16"."__team" AS "dim__team"
            FROM (
              SELECT
                "t13"."deal_id",
                "t13"."account_id",
                "t13"."lead_id",
                "t13"."owner_id",
                "t13"."team",
                "t13"."created_at",
                "t13"."close_date",
                "t13"."amount",
                "t13"."status",
                "t13"."__open",
                "t13"."__closed",
                "t13"."__day",
                "t13"."__owner",
                "t7"."__rep",
                "t7"."__from",
                "t7"."__to",
                "t7"."__department",
                "t7"."__team"
              FROM (
                SELECT
                  "t5"."deal_id",
                  "t5"."account_id",
                  "t5"."lead_id",
                  "t5"."owner_id",
                  "t5"."team",
                  "t5"."created_at",
                  "t5"."close_date",
                  "t5"."amount",
                  "t5"."status",
                  "t5"."__open",
                  "t5"."__closed",
                  DATE_FROM_PARTS(2026, 1, 31) AS "__day",
                  "t5"."owner_id" AS "__owner"
                FROM "t4" AS "t5"
                WHERE
                  "t5"."__open" <= DATE_FROM_PARTS(2026, 1, 31)
                  AND (
                    (
                      "t5"."__closed" IS NULL
                    )
                    OR (
                      "t5"."__closed" > DATE_FROM_PARTS(2026, 1, 31)
                    )
                  )
              ) AS "t13"
              LEFT OUTER JOIN (
                SELECT
                  "t2"."rep_id" AS "__rep",
                  "t2"."valid_from" AS "__from",
                  LEAST(
                    COALESCE("t2"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
                    COALESCE(
                      DATEADD(
                        DAY,
                        -'1',
                        LEAD("t2"."valid_from") OVER (PARTITION BY "t2"."rep_id" ORDER BY "t2"."valid_from" ASC)
                      ),
                      DATE_FROM_PARTS(9999, 12, 31)
                    )
                  ) AS "__to",
                  "t2"."department" AS "__department",
                  "t2"."team" AS "__team"
                FROM (
                  SELECT
                    "t0"."rep_id",
                    "t0"."valid_from",
                    "t0"."valid_to",
                    "t0"."department",
                    "t0"."team"
                  FROM "rep_assignments" AS "t0"
                ) AS "t2"
              ) AS "t7"
                ON "t13"."__owner" = "t7"."__rep"
                AND "t7"."__from" <= "t13"."__day"
                AND "t7"."__to" >= "t13"."__day"
            ) AS "t16"
          ) AS "t19"
          GROUP BY
            1,
            2,
            3
        ) AS "t22"
      ) AS "t25"
      GROUP BY
        1,
        2,
        3
    ) AS "t28"
  ) AS "t31"
) AS "t32"
;

WITH "t10" AS (
  SELECT
    "t7"."__id",
    MIN("t7"."__at") AS "__at"
  FROM (
    SELECT
      "t2"."lead_id" AS "__id",
      "t2"."entered_at" AS "__at"
    FROM "lead_stage_history" AS "t2"
    WHERE
      "t2"."stage" = 'mql'
  ) AS "t7"
  GROUP BY
    1
)
SELECT
  "t27"."period",
  "t27"."dim__department",
  "t27"."dim__team",
  SUM("t27"."s") AS "s",
  SUM("t27"."n") AS "n",
  SUM("t27"."q") AS "q"
FROM (
  SELECT
    "t26"."__day",
    "t26"."dim__department",
    "t26"."dim__team",
    "t26"."s",
    "t26"."n",
    "t26"."q",
    CASE
      WHEN (
        "t26"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
      )
      AND (
        "t26"."__day" <= DATE_FROM_PARTS(2025, 2, 28)
      )
      THEN 0
      WHEN (
        "t26"."__day" >= DATE_FROM_PARTS(2026, 1, 1)
      )
      AND (
        "t26"."__day" <= DATE_FROM_PARTS(2026, 1, 31)
      )
      THEN 1
      WHEN (
        "t26"."__day" >= DATE_FROM_PARTS(2026, 2, 1)
      )
      AND (
        "t26"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
      )
      THEN 2
      ELSE CAST(NULL AS BIGINT)
    END AS "period"
  FROM (
    SELECT
      "t25"."__day",
      "t25"."dim__department",
      "t25"."dim__team",
      SUM(IFF("t25"."__dur" >= 0, "t25"."__dur", NULL)) AS "s",
      COUNT_IF("t25"."__dur" >= 0) AS "n",
      COUNT_IF(NOT (
        "t25"."__dur" >= 0
      )) AS "q"
    FROM (
      SELECT
        "t24"."lead_id",
        "t24"."created_at",
        "t24"."owner_id",
        "t24"."team",
        "t24"."account_id",
        "t24"."__id",
        "t24"."__at",
        "t24"."__bid",
        "t24"."__bat",
        "t24"."__dur",
        "t24"."__day",
        "t24"."__owner",
        "t24"."__rep",
        "t24"."__from",
        "t24"."__to",
        "t24"."__department",
        "t24"."__team",
        "t24"."__department" AS "dim__department",
        "t24"."__team" AS "dim__team"
      FROM (
        SELECT
          "t23"."lead_id",
          "t23"."created_at",
          "t23"."owner_id",
          "t23"."team",
          "t23"."account_id",
          "t23"."__id",
          "t23"."__at",
          "t23"."__bid",
          "t23"."__bat",
          "t23"."__dur",
          "t23"."__day",
          "t23"."__owner",
          "t15"."__rep",
          "t15"."__from",
          "t15"."__to",
          "t15"."__department",
          "t15"."__team"
        FROM (
          SELECT
            "t21"."lead_id",
            "t21"."created_at",
            "t21"."owner_id",
            "t21"."team",
            "t21"."account_id",
            "t21"."__id",
            "t21"."__at",
            "t21"."__bid",
            "t21"."__bat",
            "t21"."__dur",
            "t21"."__day",
            "t21"."owner_id" AS "__owner"
          FROM (
            SELECT
              "t20"."lead_id",
              "t20"."created_at",
              "t20"."owner_id",
              "t20"."team",
              "t20"."account_id",
              "t20"."__id",
              "t20"."__at",
              "t20"."__bid",
              "t20"."__bat",
              CAST(DATEDIFF(MICROSECOND, "t20"."__at", "t20"."__bat") AS DOUBLE) / 3600000000.0 AS "__dur",
              TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t20"."__at")) AS "__day"
            FROM (
              SELECT
                "t6"."lead_id",
                "t6"."created_at",
                "t6"."owner_id",
                "t6"."team",
                "t6"."account_id",
                "t12"."__id",
                "t12"."__at",
                "t19"."__bid",
                "t19"."__bat"
              FROM (
                SELECT
                  "t1"."lead_id",
                  "t1"."created_at",
                  "t1"."owner_id",
                  "t1"."team",
                  "t1"."account_id"
                FROM "leads" AS "t1"
              ) AS "t6"
              INNER JOIN "t10" AS "t12"
                ON "t6"."lead_id" = "t12"."__id"
              INNER JOIN (
                SELECT
                  *
                FROM (
                  SELECT
                    "t16"."__id" AS "__bid",
                    MIN("t16"."__occ") AS "__bat"
                  FROM (
                    SELECT
                      "t13"."__id",
                      "t13"."__at",
                      "t9"."__aid",
                      "t9"."__occ"
                    FROM "t10" AS "t13"
                    INNER JOIN (
                      SELECT
                        "t3"."lead_id" AS "__aid",
                        "t3"."occurred_at" AS "__occ"
                      FROM "activities" AS "t3"
                      WHERE
                        "t3"."lead_id" IS NOT NULL
                    ) AS "t9"
                      ON "t13"."__id" = "t9"."__aid" AND "t9"."__occ" >= "t13"."__at"
                  ) AS "t16"
                  GROUP BY
                    1
                ) AS "t17"
                WHERE
                  TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t17"."__bat")) <= DATE_FROM_PARTS(2026, 3, 20)
              ) AS "t19"
                ON "t6"."lead_id" = "t19"."__bid"
            ) AS "t20"
          ) AS "t21"
          WHERE
            "t21"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
            AND "t21"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
        ) AS "t23"
        LEFT OUTER JOIN (
          SELECT
            "t4"."rep_id" AS "__rep",
            "t4"."valid_from" AS "__from",
            LEAST(
              COALESCE("t4"."valid_to", DATE_FROM_PARTS(9999, 12, 31)),
              COALESCE(
                DATEADD(
                  DAY,
                  -'1',
                  LEAD("t4"."valid_from") OVER (PARTITION BY "t4"."rep_id" ORDER BY "t4"."valid_from" ASC)
                ),
                DATE_FROM_PARTS(9999, 12, 31)
              )
            ) AS "__to",
            "t4"."department" AS "__department",
            "t4"."team" AS "__team"
          FROM (
            SELECT
              "t0"."rep_id",
              "t0"."valid_from",
              "t0"."valid_to",
              "t0"."department",
              "t0"."team"
            FROM "rep_assignments" AS "t0"
          ) AS "t4"
        ) AS "t15"
          ON "t23"."__owner" = "t15"."__rep"
          AND "t15"."__from" <= "t23"."__day"
          AND "t15"."__to" >= "t23"."__day"
      ) AS "t24"
    ) AS "t25"
    GROUP BY
      1,
      2,
      3
  ) AS "t26"
) AS "t27"
GROUP BY
  1,
  2,
  3
;

SELECT
  "t11"."__id",
  "t11"."__at",
  "t11"."owner",
  "t11"."__d_channel",
  "t11"."__d_campaign",
  "t11"."__d_segment",
  "t11"."__d_industry",
  "t11"."__d_region",
  MIN("t11"."__rat") AS "__resp"
FROM (
  SELECT
    "t10"."__id",
    "t10"."__at",
    "t4"."owner_id" AS "owner",
    "t4"."channel" AS "__d_channel",
    "t4"."campaign" AS "__d_campaign",
    "t4"."segment" AS "__d_segment",
    "t4"."industry" AS "__d_industry",
    "t4"."region" AS "__d_region",
    "t7"."__rid",
    "t7"."__rat"
  FROM (
    SELECT
      *
    FROM (
      SELECT
        "t6"."lead_id" AS "__id",
        MIN("t6"."entered_at") AS "__at"
      FROM (
        SELECT
          *
        FROM "lead_stage_history" AS "t2"
        WHERE
          "t2"."stage" = 'mql'
      ) AS "t6"
      GROUP BY
        1
    ) AS "t8"
    WHERE
      TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t8"."__at")) >= DATE_FROM_PARTS(2025, 2, 1)
      AND TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t8"."__at")) <= DATE_FROM_PARTS(2026, 2, 28)
  ) AS "t10"
  INNER JOIN (
    SELECT
      *
    FROM "leads" AS "t0"
  ) AS "t4"
    ON "t10"."__id" = "t4"."lead_id"
  LEFT OUTER JOIN (
    SELECT
      "t1"."lead_id" AS "__rid",
      "t1"."occurred_at" AS "__rat"
    FROM "activities" AS "t1"
    WHERE
      "t1"."lead_id" IS NOT NULL AND "t1"."type" IN ('call')
  ) AS "t7"
    ON "t10"."__id" = "t7"."__rid" AND "t7"."__rat" >= "t10"."__at"
) AS "t11"
GROUP BY
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8
;

SELECT
  *
FROM "rep_assignments" AS "t0"
;

SELECT
  *
FROM "memtable_0"
;

SELECT
  *
FROM "memtable_0"
;

SELECT
  *
FROM "memtable_0"
;

SELECT
  *
FROM "memtable_0"
;

SELECT
  "t10"."period",
  MEDIAN(IFF("t10"."__dur" >= 0, "t10"."__dur", NULL)) AS "v",
  COUNT_IF("t10"."__dur" >= 0) AS "n",
  COUNT_IF(NOT (
    "t10"."__dur" >= 0
  )) AS "q"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t8"."deal_id",
      "t8"."account_id",
      "t8"."lead_id",
      "t8"."owner_id",
      "t8"."created_at",
      "t8"."close_date",
      "t8"."status",
      "t8"."__id",
      "t8"."__at",
      "t8"."__bid",
      "t8"."__bat",
      "t8"."__dur",
      "t8"."__day",
      CASE
        WHEN (
          "t8"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
        )
        AND (
          "t8"."__day" <= DATE_FROM_PARTS(2025, 2, 28)
        )
        THEN 0
        WHEN (
          "t8"."__day" >= DATE_FROM_PARTS(2026, 1, 1)
        )
        AND (
          "t8"."__day" <= DATE_FROM_PARTS(2026, 1, 31)
        )
        THEN 1
        WHEN (
          "t8"."__day" >= DATE_FROM_PARTS(2026, 2, 1)
        )
        AND (
          "t8"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
        )
        THEN 2
        ELSE CAST(NULL AS BIGINT)
      END AS "period"
    FROM (
      SELECT
        "t7"."deal_id",
        "t7"."account_id",
        "t7"."lead_id",
        "t7"."owner_id",
        "t7"."created_at",
        "t7"."close_date",
        "t7"."status",
        "t7"."__id",
        "t7"."__at",
        "t7"."__bid",
        "t7"."__bat",
        CAST(DATEDIFF(DAY, TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t7"."__at")), "t7"."__bat") AS DOUBLE) AS "__dur",
        "t7"."__bat" AS "__day"
      FROM (
        SELECT
          "t3"."deal_id",
          "t3"."account_id",
          "t3"."lead_id",
          "t3"."owner_id",
          "t3"."created_at",
          "t3"."close_date",
          "t3"."status",
          "t5"."__id",
          "t5"."__at",
          "t6"."__bid",
          "t6"."__bat"
        FROM (
          SELECT
            "t0"."deal_id",
            "t0"."account_id",
            "t0"."lead_id",
            "t0"."owner_id",
            "t0"."created_at",
            "t0"."close_date",
            "t0"."status"
          FROM "deals" AS "t0"
        ) AS "t3"
        INNER JOIN (
          SELECT
            "t0"."deal_id" AS "__id",
            "t0"."created_at" AS "__at"
          FROM "deals" AS "t0"
          WHERE
            "t0"."created_at" IS NOT NULL
        ) AS "t5"
          ON "t3"."deal_id" = "t5"."__id"
        INNER JOIN (
          SELECT
            "t0"."deal_id" AS "__bid",
            "t0"."close_date" AS "__bat"
          FROM "deals" AS "t0"
          WHERE
            "t0"."status" = 'won'
            AND "t0"."close_date" IS NOT NULL
            AND "t0"."close_date" <= DATE_FROM_PARTS(2026, 3, 20)
        ) AS "t6"
          ON "t3"."deal_id" = "t6"."__bid"
      ) AS "t7"
    ) AS "t8"
    WHERE
      "t8"."__day" >= DATE_FROM_PARTS(2025, 2, 1)
      AND "t8"."__day" <= DATE_FROM_PARTS(2026, 2, 28)
  ) AS "t9"
  WHERE
    "t9"."period" IS NOT NULL
) AS "t10"
GROUP BY
  1
;

SELECT
  *
FROM "memtable_0"
;

SELECT
  *
FROM "memtable_0"
;

SELECT
  *
FROM "memtable_0"
;

SELECT
  *
FROM "memtable_0"
;

SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      2 AS "k",
      "t64"."latest"
    FROM (
      SELECT
        MAX("t59"."__d") AS "latest"
      FROM (
        SELECT
          *
        FROM (
          SELECT
            *
          FROM (
            SELECT
              *
            FROM (
              SELECT
                TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t11"."created_at")) AS "__d"
              FROM (
                SELECT
                  "t2"."created_at"
                FROM "leads" AS "t2"
                WHERE
                  "t2"."created_at" >= TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                  AND "t2"."created_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 22, 0, 0, 0, 0, 'UTC')
              ) AS "t11"
            ) AS "t30"
            WHERE
              "t30"."__d" <= DATE_FROM_PARTS(2026, 3, 20)
          ) AS "t38"
          UNION ALL
          SELECT
            *
          FROM (
            SELECT
              TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t37"."created_at")) AS "__d"
            FROM (
              SELECT
                "t2"."created_at"
              FROM "leads" AS "t2"
              WHERE
                "t2"."created_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                AND "t2"."created_at" >= DATEADD(
                  DAY,
                  -'1',
                  (
                    SELECT
                      MAX("t10"."created_at") AS "Max(created_at)"
                    FROM (
                      SELECT
                        "t2"."created_at"
                      FROM "leads" AS "t2"
                      WHERE
                        "t2"."created_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                    ) AS "t10"
                  )
                )
            ) AS "t37"
          ) AS "t49"
        ) AS "t55"
        UNION ALL
        SELECT
          *
        FROM (
          SELECT
            *
          FROM (
            SELECT
              *
            FROM (
              SELECT
                TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t13"."entered_at")) AS "__d"
              FROM (
                SELECT
                  "t3"."entered_at"
                FROM "lead_stage_history" AS "t3"
                WHERE
                  "t3"."entered_at" >= TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                  AND "t3"."entered_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 22, 0, 0, 0, 0, 'UTC')
              ) AS "t13"
            ) AS "t31"
            WHERE
              "t31"."__d" <= DATE_FROM_PARTS(2026, 3, 20)
          ) AS "t40"
          UNION ALL
          SELECT
            *
          FROM (
            SELECT
              TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t39"."entered_at")) AS "__d"
            FROM (
              SELECT
                "t3"."entered_at"
              FROM "lead_stage_history" AS "t3"
              WHERE
                "t3"."entered_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                AND "t3"."entered_at" >= DATEADD(
                  DAY,
                  -'1',
                  (
                    SELECT
                      MAX("t12"."entered_at") AS "Max(entered_at)"
                    FROM (
                      SELECT
                        "t3"."entered_at"
                      FROM "lead_stage_history" AS "t3"
                      WHERE
                        "t3"."entered_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                    ) AS "t12"
                  )
                )
            ) AS "t39"
          ) AS "t50"
        ) AS "t56"
      ) AS "t59"
    ) AS "t64"
  ) AS "t68"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      3 AS "k",
      "t62"."latest"
    FROM (
      SELECT
        MAX("t54"."__d") AS "latest"
      FROM (
        SELECT
          *
        FROM (
          SELECT
            *
          FROM (
            SELECT
              TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t9"."responded_at")) AS "__d"
            FROM (
              SELECT
                "t1"."responded_at"
              FROM "nps_responses" AS "t1"
              WHERE
                "t1"."responded_at" >= TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                AND "t1"."responded_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 22, 0, 0, 0, 0, 'UTC')
            ) AS "t9"
          ) AS "t29"
          WHERE
            "t29"."__d" <= DATE_FROM_PARTS(2026, 3, 20)
        ) AS "t36"
        UNION ALL
        SELECT
          *
        FROM (
          SELECT
            TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t35"."responded_at")) AS "__d"
          FROM (
            SELECT
              "t1"."responded_at"
            FROM "nps_responses" AS "t1"
            WHERE
              "t1"."responded_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
              AND "t1"."responded_at" >= DATEADD(
                DAY,
                -'1',
                (
                  SELECT
                    MAX("t8"."responded_at") AS "Max(responded_at)"
                  FROM (
                    SELECT
                      "t1"."responded_at"
                    FROM "nps_responses" AS "t1"
                    WHERE
                      "t1"."responded_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                  ) AS "t8"
                )
              )
          ) AS "t35"
        ) AS "t48"
      ) AS "t54"
    ) AS "t62"
  ) AS "t65"
) AS "t69"
UNION ALL
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      4 AS "k",
      "t21"."latest"
    FROM (
      SELECT
        MAX("t7"."end_date") AS "latest"
      FROM (
        SELECT
          "t0"."end_date"
        FROM "contracts" AS "t0"
      ) AS "t7"
    ) AS "t21"
  ) AS "t28"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        0 AS "k",
        "t63"."latest"
      FROM (
        SELECT
          MAX("t57"."__d") AS "latest"
        FROM (
          SELECT
            *
          FROM (
            SELECT
              *
            FROM (
              SELECT
                TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t15"."occurred_at")) AS "__d"
              FROM (
                SELECT
                  "t4"."occurred_at"
                FROM "activities" AS "t4"
                WHERE
                  "t4"."occurred_at" >= TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                  AND "t4"."occurred_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 22, 0, 0, 0, 0, 'UTC')
              ) AS "t15"
            ) AS "t32"
            WHERE
              "t32"."__d" <= DATE_FROM_PARTS(2026, 3, 20)
          ) AS "t42"
          UNION ALL
          SELECT
            *
          FROM (
            SELECT
              TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t41"."occurred_at")) AS "__d"
            FROM (
              SELECT
                "t4"."occurred_at"
              FROM "activities" AS "t4"
              WHERE
                "t4"."occurred_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                AND "t4"."occurred_at" >= DATEADD(
                  DAY,
                  -'1',
                  (
                    SELECT
                      MAX("t14"."occurred_at") AS "Max(occurred_at)"
                    FROM (
                      SELECT
                        "t4"."occurred_at"
                      FROM "activities" AS "t4"
                      WHERE
                        "t4"."occurred_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                    ) AS "t14"
                  )
                )
            ) AS "t41"
          ) AS "t51"
        ) AS "t57"
      ) AS "t63"
    ) AS "t66"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        1 AS "k",
        "t67"."latest"
      FROM (
        SELECT
          MAX("t61"."__d") AS "latest"
        FROM (
          SELECT
            *
          FROM (
            SELECT
              *
            FROM (
              SELECT
                "t5"."close_date" AS "__d"
              FROM "deals" AS "t5"
              WHERE
                "t5"."close_date" <= DATE_FROM_PARTS(2026, 3, 20)
            ) AS "t16"
            UNION ALL
            SELECT
              *
            FROM (
              SELECT
                *
              FROM (
                SELECT
                  TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t20"."entered_at")) AS "__d"
                FROM (
                  SELECT
                    "t6"."entered_at"
                  FROM "deal_stage_history" AS "t6"
                  WHERE
                    "t6"."entered_at" >= TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                    AND "t6"."entered_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 22, 0, 0, 0, 0, 'UTC')
                ) AS "t20"
              ) AS "t34"
              WHERE
                "t34"."__d" <= DATE_FROM_PARTS(2026, 3, 20)
            ) AS "t46"
          ) AS "t47"
          UNION ALL
          SELECT
            *
          FROM (
            SELECT
              *
            FROM (
              SELECT
                TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t45"."entered_at")) AS "__d"
              FROM (
                SELECT
                  "t6"."entered_at"
                FROM "deal_stage_history" AS "t6"
                WHERE
                  "t6"."entered_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                  AND "t6"."entered_at" >= DATEADD(
                    DAY,
                    -'1',
                    (
                      SELECT
                        MAX("t19"."entered_at") AS "Max(entered_at)"
                      FROM (
                        SELECT
                          "t6"."entered_at"
                        FROM "deal_stage_history" AS "t6"
                        WHERE
                          "t6"."entered_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                      ) AS "t19"
                    )
                  )
              ) AS "t45"
            ) AS "t53"
            UNION ALL
            SELECT
              *
            FROM (
              SELECT
                *
              FROM (
                SELECT
                  *
                FROM (
                  SELECT
                    TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t18"."created_at")) AS "__d"
                  FROM (
                    SELECT
                      "t5"."created_at"
                    FROM "deals" AS "t5"
                    WHERE
                      "t5"."created_at" >= TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                      AND "t5"."created_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 22, 0, 0, 0, 0, 'UTC')
                  ) AS "t18"
                ) AS "t33"
                WHERE
                  "t33"."__d" <= DATE_FROM_PARTS(2026, 3, 20)
              ) AS "t44"
              UNION ALL
              SELECT
                *
              FROM (
                SELECT
                  TO_DATE(CONVERT_TIMEZONE('Asia/Tokyo', "t43"."created_at")) AS "__d"
                FROM (
                  SELECT
                    "t5"."created_at"
                  FROM "deals" AS "t5"
                  WHERE
                    "t5"."created_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                    AND "t5"."created_at" >= DATEADD(
                      DAY,
                      -'1',
                      (
                        SELECT
                          MAX("t17"."created_at") AS "Max(created_at)"
                        FROM (
                          SELECT
                            "t5"."created_at"
                          FROM "deals" AS "t5"
                          WHERE
                            "t5"."created_at" < TIMESTAMP_TZ_FROM_PARTS(2026, 3, 18, 0, 0, 0, 0, 'UTC')
                        ) AS "t17"
                      )
                    )
                ) AS "t43"
              ) AS "t52"
            ) AS "t58"
          ) AS "t60"
        ) AS "t61"
      ) AS "t67"
    ) AS "t70"
  ) AS "t71"
) AS "t72"
;

SELECT
  SUM(
    IFF(
      "t1"."end_date" BETWEEN DATE_FROM_PARTS(2026, 2, 1) AND DATE_FROM_PARTS(2026, 2, 28),
      1,
      0
    )
  ) AS "all0",
  SUM(
    IFF(
      "t1"."end_date" BETWEEN DATE_FROM_PARTS(2026, 2, 1) AND DATE_FROM_PARTS(2026, 2, 28),
      1,
      0
    )
  ) AS "by0"
FROM (
  SELECT
    *
  FROM "contracts" AS "t0"
  WHERE
    "t0"."end_date" BETWEEN DATE_FROM_PARTS(2026, 2, 1) AND DATE_FROM_PARTS(2026, 2, 28)
) AS "t1"
