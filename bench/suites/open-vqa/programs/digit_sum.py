def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: What is the sum of the digits written on the shapes?
    # Answer with the sum, or "N/A" if no shape has a digit on it.
    image_patch = ImagePatch(image)
    total = 0
    found_any = False
    for shape_patch in image_patch.find("shape"):
        if max(shape_patch.width, shape_patch.height) < 16:
            # too small to carry a digit
            continue
        digit = shape_patch.simple_query("What number is on the shape?")
        if len(digit) == 1 and digit.isdigit():
            total += int(digit)
            found_any = True
    if not found_any:
        return "N/A"
    return str(total)
