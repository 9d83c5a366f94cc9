{# Fails for every row where the expression is not true. #}
{% test expression_is_true(model, column_name, expression) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
