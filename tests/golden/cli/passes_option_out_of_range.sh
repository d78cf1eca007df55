# A pass option outside its range is reported with a caret under the value,
# before anything is loaded or run.
"$NETC" dump ../../examples/mlp.net --passes='dce,fold-constants(max-bytes=-1)'
