def execute_command(image):
    # Question: What number is written on the triangle?
    # Answer with the digit, or "N/A" if there is no triangle or nothing is written on it.
    image_patch = ImagePatch(image)
    triangle_patches = image_patch.find("triangle")
    if len(triangle_patches) == 0:
        return "N/A"
    triangle_patch = triangle_patches[0]
    number = triangle_patch.simple_query("What number is written on the triangle?")
    if len(number) == 1 and number.isdigit():
        return number
    if len(number) > 1:
        # Only one digit fits on a shape: let the matcher pick among the digits read
        digits = [d for d in number if d.isdigit()]
        if len(digits) > 0:
            return triangle_patch.best_text_match(digits)
    # Nothing readable on the triangle
    return "N/A"
